// ctorch_dist.cpp — c10d (libtorch's distributed engine) through the C shim: a TCPStore rendezvous and a
// Gloo process group (CPU tensors; NCCL for CUDA tensors when compiled with TG_WITH_NCCL against a libtorch
// that has it). Same contract as ctorch.cpp: every C++ exception becomes NULL / -1 plus tg_last_error().
//
// The Gloo headers come from Debian's libgloo-dev (scripts/setup.sh installs it); the symbols are in
// libtorch_cpu. ProcessGroupGloo.hpp only declares its class when USE_C10D_GLOO is defined.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#ifdef TG_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "ctorch.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <string>
#include <vector>

// Shared with ctorch.cpp (same layout and thread-local message).
struct tg_tensor_s {
  at::Tensor t;
};
const char *tg_last_error(void);
void tg_dist_set_error(const std::string &message);

struct tg_dist_group_s {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef TG_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  int rank = 0;
  int size = 1;
};

struct tg_dist_work_s {
  c10::intrusive_ptr<c10d::Work> work;
  std::vector<at::Tensor> tensors; // kept alive until the work is waited for
};

#define TGD_TRY(fail_value, ...)                                 \
  try {                                                          \
    tg_clear_error();                                            \
    __VA_ARGS__                                                  \
  } catch (const c10::Error &e) {                                \
    tg_dist_set_error(e.what_without_backtrace());               \
  } catch (const std::exception &e) {                            \
    tg_dist_set_error(e.what());                                 \
  } catch (...) {                                                \
    tg_dist_set_error("unknown C++ exception in c10d");          \
  }                                                              \
  return fail_value;

static bool is_loopback(const std::string &host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The Gloo transport device, chosen like torch.distributed: GLOO_SOCKET_IFNAME names an interface;
// otherwise a loopback master means a single-machine run (bind to 127.0.0.1), else the default device
// (this machine's hostname, falling back to loopback).
static std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string &master) {
  if (const char *ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
    std::string name(ifname);
    auto comma = name.find(',');
    if (comma != std::string::npos) name = name.substr(0, comma);
    if (!name.empty()) return c10d::ProcessGroupGloo::createDeviceForInterface(name);
  }
  if (is_loopback(master)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

static c10d::ReduceOp reduce_op(int op) {
  switch (op) {
  case TG_REDUCE_SUM: return c10d::ReduceOp(c10d::ReduceOp::SUM);
  case TG_REDUCE_MIN: return c10d::ReduceOp(c10d::ReduceOp::MIN);
  case TG_REDUCE_MAX: return c10d::ReduceOp(c10d::ReduceOp::MAX);
  case TG_REDUCE_PRODUCT: return c10d::ReduceOp(c10d::ReduceOp::PRODUCT);
  }
  throw std::invalid_argument("unknown reduce op code " + std::to_string(op));
}

// Gloo reduces CPU tensors, NCCL CUDA tensors: route by the tensors' device.
template <class F> static auto dispatch(tg_dist_group g, const std::vector<at::Tensor> &ts, F f) {
  if (g == nullptr) throw std::invalid_argument("null process group");
  bool cuda = !ts.empty() && ts[0].is_cuda();
  for (const auto &t : ts) {
    if (!t.defined()) throw std::invalid_argument("undefined tensor in a collective");
    if (t.is_cuda() != cuda) throw std::invalid_argument("a collective mixes CPU and CUDA tensors");
    if (!t.is_contiguous()) throw std::invalid_argument("collectives need contiguous tensors");
  }
#ifdef TG_WITH_NCCL
  if (cuda) {
    if (!g->nccl) throw std::invalid_argument("CUDA tensors need the nccl backend (this group was created without it)");
    return f(*g->nccl);
  }
#else
  if (cuda) throw std::invalid_argument("CUDA tensors in a collective, but the shim was built without NCCL (TG_WITH_NCCL)");
#endif
  if (!g->gloo) throw std::invalid_argument("CPU tensors need the gloo backend (this group was created without it)");
  return f(*g->gloo);
}

static std::vector<at::Tensor> tensors_of(const tg_tensor *ts, int n) {
  if (n <= 0) throw std::invalid_argument("a collective needs at least one tensor");
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int i = 0; i < n; i++) {
    if (ts[i] == nullptr) throw std::invalid_argument("null tensor in a collective");
    v.push_back(ts[i]->t);
  }
  return v;
}

extern "C" {

int tg_dist_backend_available(const char *backend) {
  std::string b(backend ? backend : "");
  if (b == "gloo") return 1;
#ifdef TG_WITH_NCCL
  if (b == "nccl") return 1;
#endif
  return 0;
}

tg_dist_group tg_dist_init(const char *backend, const char *master_addr, int master_port, int world_size, int rank,
                           int64_t timeout_ms, int host_store, const char *store_prefix) {
  TGD_TRY(nullptr, {
    std::string b(backend ? backend : "gloo");
    std::string host(master_addr ? master_addr : "");
    if (host.empty()) throw std::invalid_argument("empty master address");
    if (master_port <= 0 || master_port > 65535) throw std::invalid_argument("master port " + std::to_string(master_port) + " is outside 1...65535");
    if (world_size < 1) throw std::invalid_argument("world size must be at least 1");
    if (rank < 0 || rank >= world_size)
      throw std::invalid_argument("rank " + std::to_string(rank) + " is outside 0..<" + std::to_string(world_size));
    if (timeout_ms <= 0) throw std::invalid_argument("the timeout must be positive");
    bool want_gloo = b == "gloo" || b == "gloo+nccl" || b == "nccl+gloo";
    bool want_nccl = b == "nccl" || b == "gloo+nccl" || b == "nccl+gloo";
    if (!want_gloo && !want_nccl) throw std::invalid_argument("unknown backend '" + b + "' (gloo, nccl, gloo+nccl)");
#ifndef TG_WITH_NCCL
    if (want_nccl) throw std::invalid_argument("backend nccl requested, but the shim was built without NCCL (see docs/TRAINING.md)");
#endif
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(master_port);
    opts.isServer = host_store < 0 ? rank == 0 : host_store != 0;
    opts.numWorkers = static_cast<std::size_t>(world_size);
    opts.waitWorkers = true;
    opts.timeout = timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(host, opts);
    tcp->setTimeout(timeout);
    // A launcher's store (torchrun's agent) is shared by every attempt: each attempt gets its own key space.
    c10::intrusive_ptr<c10d::Store> base = tcp;
    if (store_prefix != nullptr && store_prefix[0] != 0) base = c10::make_intrusive<c10d::PrefixStore>(store_prefix, tcp);
    auto g = new tg_dist_group_s();
    try {
      g->store = base;
      g->rank = rank;
      g->size = world_size;
      if (want_gloo) {
        auto o = c10d::ProcessGroupGloo::Options::create(timeout);
        o->devices.push_back(gloo_device(host));
        o->threads = 2;
        g->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", base), rank,
                                                               world_size, o);
      }
#ifdef TG_WITH_NCCL
      if (want_nccl) {
        auto o = c10d::ProcessGroupNCCL::Options::create();
        o->timeout = timeout;
        g->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl", base), rank,
                                                               world_size, o);
      }
#endif
    } catch (...) {
      delete g;
      throw;
    }
    return g;
  })
}

void tg_dist_free(tg_dist_group g) { delete g; }

int tg_dist_rank(tg_dist_group g) { return g ? g->rank : -1; }
int tg_dist_world_size(tg_dist_group g) { return g ? g->size : -1; }

int tg_dist_allreduce(tg_dist_group g, const tg_tensor *ts, int n, int op) {
  TGD_TRY(-1, {
    auto v = tensors_of(ts, n);
    auto r = reduce_op(op);
    dispatch(g, v, [&](auto &pg) {
      c10d::AllreduceOptions o;
      o.reduceOp = r;
      pg.allreduce(v, o)->wait();
      return 0;
    });
    return 0;
  })
}

tg_dist_work tg_dist_allreduce_async(tg_dist_group g, tg_tensor t, int op) {
  TGD_TRY(nullptr, {
    if (t == nullptr) throw std::invalid_argument("null tensor in a collective");
    std::vector<at::Tensor> v{t->t};
    auto r = reduce_op(op);
    auto work = dispatch(g, v, [&](auto &pg) {
      c10d::AllreduceOptions o;
      o.reduceOp = r;
      return c10::intrusive_ptr<c10d::Work>(pg.allreduce(v, o));
    });
    return new tg_dist_work_s{work, v};
  })
}

int tg_dist_work_wait(tg_dist_work w) {
  TGD_TRY(-1, {
    if (w == nullptr) throw std::invalid_argument("null work handle");
    w->work->wait();
    return 0;
  })
}

void tg_dist_work_free(tg_dist_work w) { delete w; }

int tg_dist_broadcast(tg_dist_group g, const tg_tensor *ts, int n, int root) {
  TGD_TRY(-1, {
    auto v = tensors_of(ts, n);
    if (g && (root < 0 || root >= g->size)) throw std::invalid_argument("broadcast root " + std::to_string(root) + " is not a rank");
    dispatch(g, v, [&](auto &pg) {
      c10d::BroadcastOptions o;
      o.rootRank = root;
      o.rootTensor = 0;
      // Gloo broadcasts one tensor per call on the CPU path.
      for (auto &t : v) {
        std::vector<at::Tensor> one{t};
        pg.broadcast(one, o)->wait();
      }
      return 0;
    });
    return 0;
  })
}

int tg_dist_barrier(tg_dist_group g) {
  TGD_TRY(-1, {
    if (g == nullptr) throw std::invalid_argument("null process group");
    c10d::BarrierOptions o;
#ifdef TG_WITH_NCCL
    if (!g->gloo && g->nccl) {
      g->nccl->barrier(o)->wait();
      return 0;
    }
#endif
    g->gloo->barrier(o)->wait();
    return 0;
  })
}

int tg_dist_store_set(tg_dist_group g, const char *key, const void *data, size_t n) {
  TGD_TRY(-1, {
    if (g == nullptr || key == nullptr) throw std::invalid_argument("null process group or key");
    const uint8_t *p = static_cast<const uint8_t *>(data);
    g->store->set(std::string("user/") + key, std::vector<uint8_t>(p, p + n));
    return 0;
  })
}

// Waits (up to the group's timeout) for `key`; copies at most `capacity` bytes and returns the value's size.
int64_t tg_dist_store_get(tg_dist_group g, const char *key, void *out, size_t capacity) {
  TGD_TRY(-1, {
    if (g == nullptr || key == nullptr) throw std::invalid_argument("null process group or key");
    auto v = g->store->get(std::string("user/") + key);
    if (out != nullptr) std::memcpy(out, v.data(), std::min(capacity, v.size()));
    return static_cast<int64_t>(v.size());
  })
}

} // extern "C"

extern "C" {
// Sets (or, with NULL, clears) the accumulated gradient of a leaf: used to hand averaged gradients back
// to parameters that had none on this rank.
int tg_set_grad(tg_tensor t, tg_tensor grad) {
  TGD_TRY(-1, {
    if (t == nullptr) throw std::invalid_argument("null tensor");
    if (grad == nullptr) {
      t->t.mutable_grad() = at::Tensor();
    } else {
      if (grad->t.sizes() != t->t.sizes())
        throw std::invalid_argument("gradient shape does not match the tensor's");
      t->t.mutable_grad() = grad->t;
    }
    return 0;
  })
}
} // extern "C"
