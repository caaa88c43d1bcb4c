// ctorch.cpp — the C shim over ATen/autograd. Every entry point is wrapped in TG_TRY so no C++
// exception crosses into Swift; failures become NULL / -1 plus a thread-local message.
#include "ctorch.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

struct tg_tensor_s {
  at::Tensor t;
};
struct tg_generator_s {
  at::Generator g;
};

static thread_local std::string g_last_error;

#define TG_TRY(fail_value, body)                                 \
  try {                                                          \
    g_last_error.clear();                                        \
    body                                                         \
  } catch (const c10::Error &e) {                                \
    g_last_error = e.what_without_backtrace();                   \
  } catch (const std::exception &e) {                            \
    g_last_error = e.what();                                     \
  } catch (...) {                                                \
    g_last_error = "unknown C++ exception";                      \
  }                                                              \
  return fail_value;

#define TG_RET(expr) TG_TRY(nullptr, { return wrap(expr); })
#define TG_OK(stmt) TG_TRY(-1, { stmt; return 0; })

// Every handle is made here and released by tg_free, so this counts the live handles (tg_live_tensors).
static std::atomic<int64_t> g_live_tensors{0};

static inline tg_tensor wrap(at::Tensor t) {
  tg_tensor h = new tg_tensor_s{std::move(t)};
  g_live_tensors.fetch_add(1, std::memory_order_relaxed);
  return h;
}

static at::ScalarType to_scalar_type(int dtype) {
  switch (dtype) {
  case TG_F32: return at::kFloat;
  case TG_F64: return at::kDouble;
  case TG_I64: return at::kLong;
  case TG_I32: return at::kInt;
  case TG_U8: return at::kByte;
  case TG_BOOL: return at::kBool;
  case TG_F16: return at::kHalf;
  case TG_BF16: return at::kBFloat16;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(dtype));
}

static int from_scalar_type(at::ScalarType s) {
  switch (s) {
  case at::kFloat: return TG_F32;
  case at::kDouble: return TG_F64;
  case at::kLong: return TG_I64;
  case at::kInt: return TG_I32;
  case at::kByte: return TG_U8;
  case at::kBool: return TG_BOOL;
  case at::kHalf: return TG_F16;
  case at::kBFloat16: return TG_BF16;
  default: return -1;
  }
}

// Checks a CUDA request up front: without this, a CPU-only libtorch answers with a long dispatcher
// message ("Could not run 'aten::empty.memory_format' with arguments from the 'CUDA' backend ...").
static at::Device to_device(int device) {
  if (device < 0) return at::Device(at::kCPU);
  if (!at::hasCUDA())
    throw std::invalid_argument("device cuda:" + std::to_string(device) +
                                " requested, but this libtorch was built without CUDA support (use the cpu device)");
  const int count = static_cast<int>(at::getNumGPUs());
  if (device >= count)
    throw std::invalid_argument("device cuda:" + std::to_string(device) + " requested, but only " +
                                std::to_string(count) + " CUDA device(s) are visible");
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device));
}

static at::TensorOptions opts(int dtype, int device) {
  return at::TensorOptions().dtype(to_scalar_type(dtype)).device(to_device(device));
}

static at::IntArrayRef dims_of(const int64_t *p, int n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }

static c10::optional<at::Tensor> opt(tg_tensor t) {
  if (t == nullptr) return c10::nullopt;
  return t->t;
}

static std::vector<at::Tensor> list_of(const tg_tensor *ts, int n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int i = 0; i < n; i++) {
    if (ts[i] == nullptr) throw std::invalid_argument("null tensor in list");
    v.push_back(ts[i]->t);
  }
  return v;
}

static c10::optional<at::Generator> gen(tg_generator g) {
  if (g == nullptr) return c10::nullopt;
  return g->g;
}

// Used by ctorch_dist.cpp, whose failures land in the same thread-local message.
void tg_dist_set_error(const std::string &message) { g_last_error = message; }

extern "C" {

// ---- errors, runtime ----
const char *tg_last_error(void) { return g_last_error.c_str(); }
void tg_clear_error(void) { g_last_error.clear(); }
void tg_set_num_threads(int n) {
  try { at::set_num_threads(n); } catch (...) {}
}
int tg_get_num_threads(void) { return at::get_num_threads(); }
void tg_manual_seed(uint64_t seed) {
  try { at::manual_seed(seed); } catch (...) {}
}
int tg_cuda_device_count(void) {
  try { return static_cast<int>(at::getNumGPUs()); } catch (...) { return 0; }
}
int tg_set_grad_enabled(int enabled) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(enabled != 0);
  return prev ? 1 : 0;
}
int tg_is_grad_enabled(void) { return c10::GradMode::is_enabled() ? 1 : 0; }

// ---- lifetime, metadata, data ----
void tg_free(tg_tensor t) {
  if (t == nullptr) return;
  g_live_tensors.fetch_sub(1, std::memory_order_relaxed);
  delete t;
}
int64_t tg_live_tensors(void) { return g_live_tensors.load(std::memory_order_relaxed); }
tg_tensor tg_shallow_clone(tg_tensor t) { TG_RET(t->t); }
int tg_ndim(tg_tensor t) { TG_TRY(-1, { return static_cast<int>(t->t.dim()); }) }
int tg_shape(tg_tensor t, int64_t *out) {
  TG_TRY(-1, {
    auto s = t->t.sizes();
    for (size_t i = 0; i < s.size(); i++) out[i] = s[i];
    return static_cast<int>(s.size());
  })
}
int64_t tg_numel(tg_tensor t) { TG_TRY(-1, { return t->t.numel(); }) }
int tg_dtype(tg_tensor t) { TG_TRY(-1, { return from_scalar_type(t->t.scalar_type()); }) }
int tg_device(tg_tensor t) {
  TG_TRY(-2, { return t->t.device().is_cpu() ? -1 : static_cast<int>(t->t.device().index()); })
}
int tg_copy_to(tg_tensor t, void *out, size_t nbytes) {
  TG_TRY(-1, {
    at::Tensor c = t->t.detach().to(at::kCPU).contiguous();
    size_t need = static_cast<size_t>(c.numel()) * c.element_size();
    if (need != nbytes)
      throw std::invalid_argument("copy_to: buffer has " + std::to_string(nbytes) + " bytes, tensor needs " +
                                  std::to_string(need));
    if (need > 0) std::memcpy(out, c.data_ptr(), need);
    return 0;
  })
}
double tg_item(tg_tensor t) {
  TG_TRY(0.0, {
    if (t->t.numel() != 1)
      throw std::invalid_argument("item() needs a tensor with exactly one element, this one has shape " +
                                  c10::str(t->t.sizes()));
    return t->t.item<double>();
  })
}
int tg_item_checked(tg_tensor t, double *out) {
  TG_TRY(-1, {
    if (t->t.numel() != 1)
      throw std::invalid_argument("item() needs a tensor with exactly one element, this one has shape " +
                                  c10::str(t->t.sizes()));
    *out = t->t.item<double>();
    return 0;
  })
}
int tg_is_contiguous(tg_tensor t) { TG_TRY(-1, { return t->t.is_contiguous() ? 1 : 0; }) }

// ---- creation ----
static thread_local int64_t g_creation_budget = -1;

int64_t tg_set_creation_budget(int64_t bytes) {
  int64_t previous = g_creation_budget;
  g_creation_budget = bytes < 0 ? -1 : bytes;
  return previous;
}

// Charges a tensor of this shape and dtype to the thread's creation budget before it is allocated.
static void charge(const int64_t *shape, int ndim, int dtype) {
  if (g_creation_budget < 0) return;
  int64_t bytes = static_cast<int64_t>(c10::elementSize(to_scalar_type(dtype)));
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) throw std::invalid_argument("negative dimension " + std::to_string(shape[i]));
    if (shape[i] != 0 && bytes > INT64_MAX / shape[i]) throw std::length_error("tensor size overflows");
    bytes *= shape[i];
  }
  if (bytes > g_creation_budget)
    throw std::length_error("a tensor of " + std::to_string(bytes) + " bytes exceeds the creation budget (" +
                            std::to_string(g_creation_budget) + " bytes left)");
  g_creation_budget -= bytes;
}

tg_tensor tg_from_data(const void *data, const int64_t *shape, int ndim, int dtype) {
  TG_TRY(nullptr, {
    charge(shape, ndim, dtype);
    // Bools arrive as bytes; any byte other than 0 or 1 would be an invalid bool to ATen, so they are
    // copied as uint8 and compared with zero.
    const bool is_bool = dtype == TG_BOOL;
    auto o = at::TensorOptions().dtype(is_bool ? at::kByte : to_scalar_type(dtype));
    at::Tensor t = at::empty(dims_of(shape, ndim), o);
    size_t n = static_cast<size_t>(t.numel()) * t.element_size();
    if (n > 0) {
      if (data == nullptr) throw std::invalid_argument("from_data: NULL data for a non-empty tensor");
      std::memcpy(t.data_ptr(), data, n);
    }
    return wrap(is_bool ? t.ne(0) : t);
  })
}
tg_tensor tg_zeros(const int64_t *s, int n, int dtype, int device) {
  TG_TRY(nullptr, { charge(s, n, dtype); return wrap(at::zeros(dims_of(s, n), opts(dtype, device))); })
}
tg_tensor tg_ones(const int64_t *s, int n, int dtype, int device) {
  TG_TRY(nullptr, { charge(s, n, dtype); return wrap(at::ones(dims_of(s, n), opts(dtype, device))); })
}
tg_tensor tg_full(const int64_t *s, int n, double v, int dtype, int device) {
  TG_TRY(nullptr, { charge(s, n, dtype); return wrap(at::full(dims_of(s, n), v, opts(dtype, device))); })
}
tg_tensor tg_arange(double a, double b, double step, int dtype, int device) {
  TG_RET(at::arange(a, b, step, opts(dtype, device)));
}
tg_tensor tg_linspace(double a, double b, int64_t steps, int dtype, int device) {
  TG_RET(at::linspace(a, b, steps, opts(dtype, device)));
}
tg_tensor tg_eye(int64_t n, int dtype, int device) { TG_RET(at::eye(n, opts(dtype, device))); }

// ---- random ----
tg_generator tg_generator_new(uint64_t seed) {
  TG_TRY(nullptr, {
    auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
    return new tg_generator_s{g};
  })
}
void tg_generator_free(tg_generator g) { delete g; }
void tg_generator_set_seed(tg_generator g, uint64_t seed) {
  try {
    std::lock_guard<std::mutex> lock(g->g.mutex());
    g->g.set_current_seed(seed);
  } catch (...) {}
}
// Random numbers are drawn on the CPU and moved, so a seed gives the same numbers on every device.
tg_tensor tg_randn(const int64_t *s, int n, int dtype, int device, tg_generator g) {
  TG_TRY(nullptr, {
    charge(s, n, dtype);
    return wrap(at::randn(dims_of(s, n), gen(g), opts(dtype, -1)).to(to_device(device)));
  })
}
tg_tensor tg_rand(const int64_t *s, int n, int dtype, int device, tg_generator g) {
  TG_TRY(nullptr, {
    charge(s, n, dtype);
    return wrap(at::rand(dims_of(s, n), gen(g), opts(dtype, -1)).to(to_device(device)));
  })
}
tg_tensor tg_randint(int64_t low, int64_t high, const int64_t *s, int n, int device, tg_generator g) {
  TG_TRY(nullptr, {
    charge(s, n, TG_I64);
    return wrap(at::randint(low, high, dims_of(s, n), gen(g), opts(TG_I64, -1)).to(to_device(device)));
  })
}
tg_tensor tg_randperm(int64_t n, int device, tg_generator g) {
  TG_RET(at::randperm(n, gen(g), opts(TG_I64, -1)).to(to_device(device)));
}

// ---- conversions ----
tg_tensor tg_to_dtype(tg_tensor t, int dtype) { TG_RET(t->t.to(to_scalar_type(dtype))); }
tg_tensor tg_to_device(tg_tensor t, int device) { TG_RET(t->t.to(to_device(device))); }
tg_tensor tg_contiguous(tg_tensor t) { TG_RET(t->t.contiguous()); }
tg_tensor tg_clone(tg_tensor t) { TG_RET(t->t.clone()); }
tg_tensor tg_detach(tg_tensor t) { TG_RET(t->t.detach()); }
tg_tensor tg_zeros_like(tg_tensor t) { TG_RET(at::zeros_like(t->t)); }
int tg_replace(tg_tensor dst, tg_tensor src) { TG_OK(dst->t = src->t); }

// ---- unary ----
static at::Tensor unary_impl(int op, const at::Tensor &x) {
  switch (op) {
  case TG_NEG: return x.neg();
  case TG_EXP: return x.exp();
  case TG_LOG: return x.log();
  case TG_SQRT: return x.sqrt();
  case TG_RSQRT: return x.rsqrt();
  case TG_ABS: return x.abs();
  case TG_SIN: return x.sin();
  case TG_COS: return x.cos();
  case TG_TANH: return x.tanh();
  case TG_SIGMOID: return x.sigmoid();
  case TG_RELU: return at::relu(x);
  case TG_SILU: return at::silu(x);
  case TG_GELU: return at::gelu(x);
  case TG_SQUARE: return x.square();
  case TG_SIGN: return x.sign();
  case TG_FLOOR: return x.floor();
  case TG_CEIL: return x.ceil();
  case TG_ROUND: return x.round();
  case TG_ERF: return x.erf();
  case TG_LOG1P: return x.log1p();
  case TG_EXPM1: return x.expm1();
  case TG_RECIPROCAL: return x.reciprocal();
  case TG_GELU_TANH: return at::gelu(x, "tanh");
  case TG_LOGICAL_NOT: return x.logical_not();
  case TG_ACOS: return x.acos();
  case TG_ASIN: return x.asin();
  case TG_ATAN: return x.atan();
  }
  throw std::invalid_argument("unknown unary op " + std::to_string(op));
}
tg_tensor tg_unary(int op, tg_tensor t) { TG_RET(unary_impl(op, t->t)); }

// ---- binary ----
static at::Tensor binary_impl(int op, const at::Tensor &a, const at::Tensor &b) {
  switch (op) {
  case TG_ADD: return a + b;
  case TG_SUB: return a - b;
  case TG_MUL: return a * b;
  case TG_DIV: return a / b;
  case TG_POW: return a.pow(b);
  case TG_MAXIMUM: return at::maximum(a, b);
  case TG_MINIMUM: return at::minimum(a, b);
  case TG_ATAN2: return at::atan2(a, b);
  case TG_EQ: return a.eq(b);
  case TG_NE: return a.ne(b);
  case TG_LT: return a.lt(b);
  case TG_LE: return a.le(b);
  case TG_GT: return a.gt(b);
  case TG_GE: return a.ge(b);
  case TG_LOGICAL_AND: return a.logical_and(b);
  case TG_LOGICAL_OR: return a.logical_or(b);
  case TG_REMAINDER: return a.remainder(b);
  }
  throw std::invalid_argument("unknown binary op " + std::to_string(op));
}
static at::Tensor binary_scalar_impl(int op, const at::Tensor &a, double s) {
  switch (op) {
  case TG_ADD: return a + s;
  case TG_SUB: return a - s;
  case TG_MUL: return a * s;
  case TG_DIV: return a / s;
  case TG_POW: return a.pow(s);
  case TG_MAXIMUM: return a.clamp_min(s);
  case TG_MINIMUM: return a.clamp_max(s);
  case TG_EQ: return a.eq(s);
  case TG_NE: return a.ne(s);
  case TG_LT: return a.lt(s);
  case TG_LE: return a.le(s);
  case TG_GT: return a.gt(s);
  case TG_GE: return a.ge(s);
  case TG_REMAINDER: return a.remainder(s);
  }
  throw std::invalid_argument("binary op " + std::to_string(op) + " has no scalar form");
}
tg_tensor tg_binary(int op, tg_tensor a, tg_tensor b) { TG_RET(binary_impl(op, a->t, b->t)); }
tg_tensor tg_binary_scalar(int op, tg_tensor a, double s) { TG_RET(binary_scalar_impl(op, a->t, s)); }
tg_tensor tg_rsub_scalar(double s, tg_tensor a) { TG_RET(at::rsub(a->t, s)); }
tg_tensor tg_rdiv_scalar(double s, tg_tensor a) { TG_RET(a->t.reciprocal() * s); }
tg_tensor tg_clamp(tg_tensor t, double lo, double hi, int has_lo, int has_hi) {
  c10::optional<at::Scalar> l, h;
  if (has_lo) l = lo;
  if (has_hi) h = hi;
  TG_RET(at::clamp(t->t, l, h));
}
tg_tensor tg_where(tg_tensor c, tg_tensor a, tg_tensor b) { TG_RET(at::where(c->t, a->t, b->t)); }
tg_tensor tg_masked_fill(tg_tensor t, tg_tensor m, double v) { TG_RET(t->t.masked_fill(m->t, v)); }
tg_tensor tg_lerp(tg_tensor a, tg_tensor b, double w) { TG_RET(at::lerp(a->t, b->t, w)); }

// ---- linear algebra ----
tg_tensor tg_matmul(tg_tensor a, tg_tensor b) { TG_RET(at::matmul(a->t, b->t)); }
tg_tensor tg_bmm(tg_tensor a, tg_tensor b) { TG_RET(at::bmm(a->t, b->t)); }
tg_tensor tg_linear(tg_tensor x, tg_tensor w, tg_tensor b) { TG_RET(at::linear(x->t, w->t, opt(b))); }
tg_tensor tg_einsum(const char *eq, const tg_tensor *ts, int n) { TG_RET(at::einsum(eq, list_of(ts, n))); }
tg_tensor tg_linalg_eigh(tg_tensor x, tg_tensor *vectors_out) {
  TG_TRY(nullptr, {
    if (vectors_out == nullptr) return wrap(at::linalg_eigvalsh(x->t));
    auto r = at::linalg_eigh(x->t);
    *vectors_out = wrap(std::get<1>(r));
    return wrap(std::get<0>(r));
  })
}
tg_tensor tg_linalg_svdvals(tg_tensor x) { TG_RET(at::linalg_svdvals(x->t)); }

// ---- convolution, pooling, resampling ----
tg_tensor tg_conv2d(tg_tensor x, tg_tensor w, tg_tensor b, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                    int64_t dh, int64_t dw, int64_t groups) {
  TG_RET(at::conv2d(x->t, w->t, opt(b), {sh, sw}, {ph, pw}, {dh, dw}, groups));
}
tg_tensor tg_conv1d(tg_tensor x, tg_tensor w, tg_tensor b, int64_t s, int64_t p, int64_t d, int64_t groups) {
  TG_RET(at::conv1d(x->t, w->t, opt(b), {s}, {p}, {d}, groups));
}
tg_tensor tg_conv_transpose2d(tg_tensor x, tg_tensor w, tg_tensor b, int64_t s, int64_t p, int64_t op,
                              int64_t groups) {
  TG_RET(at::conv_transpose2d(x->t, w->t, opt(b), {s, s}, {p, p}, {op, op}, groups));
}
tg_tensor tg_conv_transpose2d_ex(tg_tensor x, tg_tensor w, tg_tensor b, int64_t sh, int64_t sw, int64_t ph,
                                 int64_t pw, int64_t oph, int64_t opw, int64_t groups, int64_t dh, int64_t dw) {
  TG_RET(at::conv_transpose2d(x->t, w->t, opt(b), {sh, sw}, {ph, pw}, {oph, opw}, groups, {dh, dw}));
}
tg_tensor tg_avg_pool1d(tg_tensor x, int64_t k, int64_t s, int64_t p) { TG_RET(at::avg_pool1d(x->t, {k}, {s}, {p})); }
tg_tensor tg_max_pool1d(tg_tensor x, int64_t k, int64_t s, int64_t p) { TG_RET(at::max_pool1d(x->t, {k}, {s}, {p})); }
tg_tensor tg_avg_pool2d(tg_tensor x, int64_t k, int64_t s, int64_t p) { TG_RET(at::avg_pool2d(x->t, {k, k}, {s, s}, {p, p})); }
tg_tensor tg_max_pool2d(tg_tensor x, int64_t k, int64_t s, int64_t p) { TG_RET(at::max_pool2d(x->t, {k, k}, {s, s}, {p, p})); }
tg_tensor tg_adaptive_avg_pool2d(tg_tensor x, int64_t oh, int64_t ow) { TG_RET(at::adaptive_avg_pool2d(x->t, {oh, ow})); }
tg_tensor tg_upsample_nearest2d(tg_tensor x, int64_t oh, int64_t ow) {
  TG_RET(at::upsample_nearest2d(x->t, {oh, ow}));
}
tg_tensor tg_upsample_bilinear2d(tg_tensor x, int64_t oh, int64_t ow, int align) {
  TG_RET(at::upsample_bilinear2d(x->t, {oh, ow}, align != 0));
}
tg_tensor tg_grid_sample(tg_tensor x, tg_tensor grid, int mode, int padding, int align) {
  TG_RET(at::grid_sampler(x->t, grid->t, mode, padding, align != 0));
}
tg_tensor tg_pad(tg_tensor x, const int64_t *pads, int n, int mode, double value) {
  TG_TRY(nullptr, {
    auto p = dims_of(pads, n);
    if (mode == 0) return wrap(at::constant_pad_nd(x->t, p, value));
    if (mode != 1 && mode != 2) throw std::invalid_argument("unknown pad mode " + std::to_string(mode));
    if (n == 2 && x->t.dim() == 3)
      return wrap(mode == 1 ? at::reflection_pad1d(x->t, p) : at::replication_pad1d(x->t, p));
    if (n == 4 && x->t.dim() == 4)
      return wrap(mode == 1 ? at::reflection_pad2d(x->t, p) : at::replication_pad2d(x->t, p));
    throw std::invalid_argument("reflect/replicate padding needs 2 pads on N×C×L or 4 pads on N×C×H×W, got " +
                                std::to_string(n) + " pads on shape " + c10::str(x->t.sizes()));
  })
}

// ---- normalisation, activations ----
tg_tensor tg_group_norm(tg_tensor x, int64_t groups, tg_tensor w, tg_tensor b, double eps) {
  TG_RET(at::group_norm(x->t, groups, opt(w), opt(b), eps));
}
tg_tensor tg_layer_norm(tg_tensor x, const int64_t *ns, int n, tg_tensor w, tg_tensor b, double eps) {
  TG_RET(at::layer_norm(x->t, dims_of(ns, n), opt(w), opt(b), eps));
}
tg_tensor tg_softmax(tg_tensor x, int64_t dim) { TG_RET(at::softmax(x->t, dim)); }
tg_tensor tg_log_softmax(tg_tensor x, int64_t dim) { TG_RET(at::log_softmax(x->t, dim)); }
tg_tensor tg_leaky_relu(tg_tensor x, double slope) { TG_RET(at::leaky_relu(x->t, slope)); }
tg_tensor tg_dropout(tg_tensor x, double p, int train) { TG_RET(at::dropout(x->t, p, train != 0)); }
tg_tensor tg_attention(tg_tensor q, tg_tensor k, tg_tensor v, tg_tensor mask, double scale, tg_tensor *attn_out) {
  TG_TRY(nullptr, {
    at::Tensor s = at::matmul(q->t, k->t.transpose(-2, -1)) * scale;
    if (mask != nullptr) s = s + mask->t;
    at::Tensor a = at::softmax(s, -1);
    at::Tensor o = at::matmul(a, v->t);
    // Only hand out handles once nothing can throw, so a failure never leaks the weights handle.
    if (attn_out != nullptr) *attn_out = wrap(a);
    return wrap(o);
  })
}

// ---- reductions ----
tg_tensor tg_sum(tg_tensor x, const int64_t *d, int n, int keep) {
  TG_RET(n == 0 ? x->t.sum() : x->t.sum(dims_of(d, n), keep != 0));
}
tg_tensor tg_mean(tg_tensor x, const int64_t *d, int n, int keep) {
  TG_RET(n == 0 ? x->t.mean() : x->t.mean(dims_of(d, n), keep != 0));
}
tg_tensor tg_var(tg_tensor x, const int64_t *d, int n, int unbiased, int keep) {
  TG_RET(n == 0 ? x->t.var(unbiased != 0) : x->t.var(dims_of(d, n), unbiased != 0, keep != 0));
}
tg_tensor tg_amax(tg_tensor x, const int64_t *d, int n, int keep) {
  TG_RET(n == 0 ? x->t.max() : x->t.amax(dims_of(d, n), keep != 0));
}
tg_tensor tg_amin(tg_tensor x, const int64_t *d, int n, int keep) {
  TG_RET(n == 0 ? x->t.min() : x->t.amin(dims_of(d, n), keep != 0));
}
tg_tensor tg_argmax(tg_tensor x, int64_t dim, int keep) { TG_RET(x->t.argmax(dim, keep != 0)); }
tg_tensor tg_argmin(tg_tensor x, int64_t dim, int keep) { TG_RET(x->t.argmin(dim, keep != 0)); }
tg_tensor tg_norm(tg_tensor x, double p, const int64_t *d, int n, int keep) {
  TG_RET(n == 0 ? at::norm(x->t, p) : at::norm(x->t, p, dims_of(d, n), keep != 0));
}
tg_tensor tg_cumsum(tg_tensor x, int64_t dim) { TG_RET(x->t.cumsum(dim)); }
tg_tensor tg_logsumexp(tg_tensor x, int64_t dim, int keep) { TG_RET(x->t.logsumexp({dim}, keep != 0)); }

// ---- shape and indexing ----
tg_tensor tg_reshape(tg_tensor x, const int64_t *s, int n) { TG_RET(x->t.reshape(dims_of(s, n))); }
tg_tensor tg_permute(tg_tensor x, const int64_t *d, int n) { TG_RET(x->t.permute(dims_of(d, n))); }
tg_tensor tg_transpose(tg_tensor x, int64_t a, int64_t b) { TG_RET(x->t.transpose(a, b)); }
tg_tensor tg_expand(tg_tensor x, const int64_t *s, int n) { TG_RET(x->t.expand(dims_of(s, n))); }
tg_tensor tg_repeat(tg_tensor x, const int64_t *r, int n) { TG_RET(x->t.repeat(dims_of(r, n))); }
tg_tensor tg_squeeze(tg_tensor x, int64_t d) { TG_RET(x->t.squeeze(d)); }
tg_tensor tg_unsqueeze(tg_tensor x, int64_t d) { TG_RET(x->t.unsqueeze(d)); }
tg_tensor tg_flatten(tg_tensor x, int64_t s, int64_t e) { TG_RET(x->t.flatten(s, e)); }
tg_tensor tg_narrow(tg_tensor x, int64_t d, int64_t s, int64_t l) { TG_RET(x->t.narrow(d, s, l)); }
tg_tensor tg_slice(tg_tensor x, int64_t d, int64_t s, int64_t e, int64_t step) { TG_RET(x->t.slice(d, s, e, step)); }
tg_tensor tg_select(tg_tensor x, int64_t d, int64_t i) { TG_RET(x->t.select(d, i)); }
tg_tensor tg_index_select(tg_tensor x, int64_t d, tg_tensor i) { TG_RET(x->t.index_select(d, i->t)); }
tg_tensor tg_gather(tg_tensor x, int64_t d, tg_tensor i) { TG_RET(x->t.gather(d, i->t)); }
tg_tensor tg_scatter_add(tg_tensor x, int64_t d, tg_tensor i, tg_tensor s) { TG_RET(x->t.scatter_add(d, i->t, s->t)); }
tg_tensor tg_index_add(tg_tensor x, int64_t d, tg_tensor i, tg_tensor s) { TG_RET(x->t.index_add(d, i->t, s->t)); }
tg_tensor tg_masked_select(tg_tensor x, tg_tensor m) { TG_RET(x->t.masked_select(m->t)); }
tg_tensor tg_cat(const tg_tensor *ts, int n, int64_t d) { TG_RET(at::cat(list_of(ts, n), d)); }
tg_tensor tg_stack(const tg_tensor *ts, int n, int64_t d) { TG_RET(at::stack(list_of(ts, n), d)); }
tg_tensor tg_flip(tg_tensor x, const int64_t *d, int n) { TG_RET(x->t.flip(dims_of(d, n))); }
tg_tensor tg_roll(tg_tensor x, int64_t shift, int64_t d) { TG_RET(x->t.roll({shift}, {d})); }
tg_tensor tg_tril(tg_tensor x, int64_t k) { TG_RET(x->t.tril(k)); }
tg_tensor tg_triu(tg_tensor x, int64_t k) { TG_RET(x->t.triu(k)); }
tg_tensor tg_embedding(tg_tensor w, tg_tensor i) { TG_RET(at::embedding(w->t, i->t)); }
tg_tensor tg_one_hot(tg_tensor i, int64_t c) { TG_RET(at::one_hot(i->t, c)); }
tg_tensor tg_cross(tg_tensor a, tg_tensor b, int64_t d) { TG_RET(at::linalg_cross(a->t, b->t, d)); }
tg_tensor tg_sort(tg_tensor x, int64_t d, int desc, tg_tensor *idx) {
  TG_TRY(nullptr, {
    auto r = x->t.sort(d, desc != 0);
    if (idx != nullptr) *idx = wrap(std::get<1>(r));
    return wrap(std::get<0>(r));
  })
}
tg_tensor tg_topk(tg_tensor x, int64_t k, int64_t d, int largest, tg_tensor *idx) {
  TG_TRY(nullptr, {
    auto r = x->t.topk(k, d, largest != 0);
    if (idx != nullptr) *idx = wrap(std::get<1>(r));
    return wrap(std::get<0>(r));
  })
}

// ---- in-place ----
int tg_copy_(tg_tensor d, tg_tensor s) { TG_OK(d->t.copy_(s->t)); }
int tg_add_(tg_tensor t, tg_tensor o, double alpha) { TG_OK(t->t.add_(o->t, alpha)); }
int tg_mul_scalar_(tg_tensor t, double s) { TG_OK(t->t.mul_(s)); }
int tg_add_scalar_(tg_tensor t, double s) { TG_OK(t->t.add_(s)); }
int tg_addcmul_(tg_tensor t, tg_tensor a, tg_tensor b, double v) { TG_OK(t->t.addcmul_(a->t, b->t, v)); }
int tg_addcdiv_(tg_tensor t, tg_tensor a, tg_tensor b, double v) { TG_OK(t->t.addcdiv_(a->t, b->t, v)); }
int tg_lerp_(tg_tensor t, tg_tensor e, double w) { TG_OK(t->t.lerp_(e->t, w)); }
int tg_zero_(tg_tensor t) { TG_OK(t->t.zero_()); }
int tg_fill_(tg_tensor t, double v) { TG_OK(t->t.fill_(v)); }
int tg_clamp_(tg_tensor t, double lo, double hi) { TG_OK(t->t.clamp_(lo, hi)); }

// ---- autograd ----
int tg_set_requires_grad(tg_tensor t, int r) {
  TG_OK({
    // As in Python: on a computed tensor the flag cannot change (C++ would silently keep it on).
    if (!t->t.is_leaf())
      throw std::invalid_argument("requires_grad can only be changed on leaf tensors; use detach() for a computed one");
    t->t.set_requires_grad(r != 0);
  });
}
int tg_requires_grad(tg_tensor t) { TG_TRY(-1, { return t->t.requires_grad() ? 1 : 0; }) }
int tg_is_leaf(tg_tensor t) { TG_TRY(-1, { return t->t.is_leaf() ? 1 : 0; }) }
tg_tensor tg_grad(tg_tensor t, int *defined) {
  TG_TRY(nullptr, {
    const at::Tensor &g = t->t.grad();
    *defined = g.defined() ? 1 : 0;
    if (!g.defined()) return static_cast<tg_tensor>(nullptr);
    return wrap(g);
  })
}
int tg_zero_grad(tg_tensor t) { TG_OK(t->t.mutable_grad().reset()); }
int tg_backward(tg_tensor t, tg_tensor g, int retain) {
  TG_OK({
    // The C++ API silently does nothing here; Python raises, and so do we (a forgotten requiresGrad).
    if (!t->t.requires_grad())
      throw std::invalid_argument("backward() on a tensor that does not require grad and has no grad_fn");
    if (g == nullptr) {
      if (t->t.numel() != 1) throw std::invalid_argument("backward() without a gradient needs a scalar output");
      t->t.backward({}, retain != 0);
    } else {
      t->t.backward(g->t, retain != 0);
    }
  });
}
int tg_autograd_grad(const tg_tensor *outputs, int n_out, const tg_tensor *grad_outputs, const tg_tensor *inputs,
                     int n_in, int create_graph, int allow_unused, tg_tensor *grads_out) {
  TG_TRY(-1, {
    std::vector<at::Tensor> outs = list_of(outputs, n_out);
    std::vector<at::Tensor> ins = list_of(inputs, n_in);
    std::vector<at::Tensor> gouts;
    if (grad_outputs != nullptr) gouts = list_of(grad_outputs, n_out);
    auto res = torch::autograd::grad(outs, ins, gouts, c10::nullopt, create_graph != 0, allow_unused != 0);
    for (int i = 0; i < n_in; i++) grads_out[i] = res[i].defined() ? wrap(res[i]) : nullptr;
    return 0;
  })
}

} // extern "C"
