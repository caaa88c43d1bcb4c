// ctorch.h — a plain-C interface over ATen and autograd (Debian libtorch 1.13.1).
//
// Every function catches C++ exceptions. On failure a function returning a tensor returns NULL and a
// function returning int returns -1; the message is then available from tg_last_error() (thread-local,
// so concurrent callers never see each other's messages). Every entry point that can fail clears the
// message first; tg_free and tg_generator_free never touch it, so releasing temporaries between a failed
// call and reading the message is safe.
//
// Ownership: every tg_tensor returned by a function is a new heap handle owned by the caller and freed
// with tg_free(). Handles passed as arguments are borrowed. A handle holds one reference to an ATen
// tensor; several handles may share storage (views, tg_shallow_clone).
#ifndef CTORCH_H
#define CTORCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_tensor_s *tg_tensor;
typedef struct tg_generator_s *tg_generator;

// dtypes (stable numbering used by the Swift layer)
enum { TG_F32 = 0, TG_F64 = 1, TG_I64 = 2, TG_I32 = 3, TG_U8 = 4, TG_BOOL = 5, TG_F16 = 6, TG_BF16 = 7 };

// ---- errors, runtime ----
const char *tg_last_error(void);
void tg_clear_error(void);
void tg_set_num_threads(int n);
int tg_get_num_threads(void);
void tg_manual_seed(uint64_t seed);
int tg_cuda_device_count(void); // 0 when libtorch was built without CUDA
int tg_set_grad_enabled(int enabled); // returns the previous state
int tg_is_grad_enabled(void);

// ---- lifetime, metadata, data ----
void tg_free(tg_tensor t);
// Tensor handles currently alive (made by any function, not yet passed to tg_free): a leak counter for tests.
int64_t tg_live_tensors(void);
tg_tensor tg_shallow_clone(tg_tensor t); // new handle, same storage and autograd identity
int tg_ndim(tg_tensor t);
int tg_shape(tg_tensor t, int64_t *out); // writes ndim values
int64_t tg_numel(tg_tensor t);
int tg_dtype(tg_tensor t); // a TG_* code, or -1 for a dtype the shim does not map (complex, int16, ...)
int tg_device(tg_tensor t); // -1 = cpu, k >= 0 = cuda:k
int tg_copy_to(tg_tensor t, void *out, size_t nbytes); // copies contiguous cpu data of t's dtype
double tg_item(tg_tensor t);          // 0 and an error message on failure; prefer tg_item_checked
int tg_item_checked(tg_tensor t, double *out); // 0, or -1 when t has not exactly one element
int tg_is_contiguous(tg_tensor t);

// ---- creation ----
// A per-thread budget in bytes for the tensors the shape-based creators below make (from_data, zeros, ones,
// full, randn, rand, randint): each one is charged before it is allocated and fails once the budget is spent.
// -1 (the default) means no budget. Returns the previous budget. Used while building a module from untrusted
// metadata, so a crafted config cannot allocate more than its file could fill.
int64_t tg_set_creation_budget(int64_t bytes);
tg_tensor tg_from_data(const void *data, const int64_t *shape, int ndim, int dtype); // copies
tg_tensor tg_zeros(const int64_t *shape, int ndim, int dtype, int device);
tg_tensor tg_ones(const int64_t *shape, int ndim, int dtype, int device);
tg_tensor tg_full(const int64_t *shape, int ndim, double value, int dtype, int device);
tg_tensor tg_arange(double start, double end, double step, int dtype, int device);
tg_tensor tg_linspace(double start, double end, int64_t steps, int dtype, int device);
tg_tensor tg_eye(int64_t n, int dtype, int device);

// ---- random (a NULL generator means the global one) ----
tg_generator tg_generator_new(uint64_t seed);
void tg_generator_free(tg_generator g);
void tg_generator_set_seed(tg_generator g, uint64_t seed);
tg_tensor tg_randn(const int64_t *shape, int ndim, int dtype, int device, tg_generator g);
tg_tensor tg_rand(const int64_t *shape, int ndim, int dtype, int device, tg_generator g);
tg_tensor tg_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int device, tg_generator g);
tg_tensor tg_randperm(int64_t n, int device, tg_generator g);

// ---- conversions ----
tg_tensor tg_to_dtype(tg_tensor t, int dtype);
tg_tensor tg_to_device(tg_tensor t, int device);
tg_tensor tg_contiguous(tg_tensor t);
tg_tensor tg_clone(tg_tensor t);
tg_tensor tg_detach(tg_tensor t);
tg_tensor tg_zeros_like(tg_tensor t); // same shape, dtype and device
// Makes `dst` refer to `src`'s tensor (storage, dtype, device, requires_grad). Every Swift object that
// holds `dst` sees the change; used to move module parameters between devices and dtypes in place.
int tg_replace(tg_tensor dst, tg_tensor src);

// ---- unary ops: op is one of the TG_UNARY_* codes ----
enum {
  TG_NEG = 0, TG_EXP, TG_LOG, TG_SQRT, TG_RSQRT, TG_ABS, TG_SIN, TG_COS, TG_TANH, TG_SIGMOID,
  TG_RELU, TG_SILU, TG_GELU, TG_SQUARE, TG_SIGN, TG_FLOOR, TG_CEIL, TG_ROUND, TG_ERF, TG_LOG1P,
  TG_EXPM1, TG_RECIPROCAL, TG_GELU_TANH, TG_LOGICAL_NOT, TG_ACOS, TG_ASIN, TG_ATAN
};
tg_tensor tg_unary(int op, tg_tensor t);

// ---- binary ops with broadcasting ----
enum {
  TG_ADD = 0, TG_SUB, TG_MUL, TG_DIV, TG_POW, TG_MAXIMUM, TG_MINIMUM, TG_ATAN2,
  TG_EQ, TG_NE, TG_LT, TG_LE, TG_GT, TG_GE, TG_LOGICAL_AND, TG_LOGICAL_OR, TG_REMAINDER
};
tg_tensor tg_binary(int op, tg_tensor a, tg_tensor b);
tg_tensor tg_binary_scalar(int op, tg_tensor a, double s); // a (op) s
tg_tensor tg_rsub_scalar(double s, tg_tensor a);           // s - a
tg_tensor tg_rdiv_scalar(double s, tg_tensor a);           // s / a
tg_tensor tg_clamp(tg_tensor t, double lo, double hi, int has_lo, int has_hi);
tg_tensor tg_where(tg_tensor cond, tg_tensor a, tg_tensor b);
tg_tensor tg_masked_fill(tg_tensor t, tg_tensor mask, double value);
tg_tensor tg_lerp(tg_tensor a, tg_tensor b, double w);

// ---- linear algebra ----
tg_tensor tg_matmul(tg_tensor a, tg_tensor b);
tg_tensor tg_bmm(tg_tensor a, tg_tensor b);
tg_tensor tg_linear(tg_tensor x, tg_tensor w, tg_tensor b /* nullable */);
tg_tensor tg_einsum(const char *eq, const tg_tensor *ts, int n);
// Eigen-decomposition of symmetric matrices (LAPACK syevd; only the lower triangle is read): eigenvalues in
// ascending order; the eigenvectors (as columns) go to *vectors_out when it is non-NULL.
tg_tensor tg_linalg_eigh(tg_tensor x, tg_tensor *vectors_out);
// Singular values (descending) of a matrix or a batch of them (LAPACK gesdd, no vectors).
tg_tensor tg_linalg_svdvals(tg_tensor x);

// ---- convolution, pooling, resampling ----
tg_tensor tg_conv2d(tg_tensor x, tg_tensor w, tg_tensor b /* nullable */, int64_t sh, int64_t sw,
                    int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups);
tg_tensor tg_conv1d(tg_tensor x, tg_tensor w, tg_tensor b /* nullable */, int64_t stride, int64_t padding,
                    int64_t dilation, int64_t groups);
tg_tensor tg_conv_transpose2d(tg_tensor x, tg_tensor w, tg_tensor b /* nullable */, int64_t stride,
                              int64_t padding, int64_t output_padding, int64_t groups);
tg_tensor tg_conv_transpose2d_ex(tg_tensor x, tg_tensor w, tg_tensor b /* nullable */, int64_t sh, int64_t sw,
                                 int64_t ph, int64_t pw, int64_t oph, int64_t opw, int64_t groups, int64_t dh,
                                 int64_t dw);
tg_tensor tg_avg_pool1d(tg_tensor x, int64_t k, int64_t stride, int64_t padding);
tg_tensor tg_max_pool1d(tg_tensor x, int64_t k, int64_t stride, int64_t padding);
tg_tensor tg_avg_pool2d(tg_tensor x, int64_t k, int64_t stride, int64_t padding);
tg_tensor tg_max_pool2d(tg_tensor x, int64_t k, int64_t stride, int64_t padding);
tg_tensor tg_adaptive_avg_pool2d(tg_tensor x, int64_t oh, int64_t ow);
tg_tensor tg_upsample_nearest2d(tg_tensor x, int64_t oh, int64_t ow);
tg_tensor tg_upsample_bilinear2d(tg_tensor x, int64_t oh, int64_t ow, int align_corners);
tg_tensor tg_grid_sample(tg_tensor x, tg_tensor grid, int mode /*0 bilinear,1 nearest*/,
                         int padding /*0 zeros,1 border,2 reflection*/, int align_corners);
// constant: any rank; reflect/replicate: 2 pads on N×C×L or 4 pads on N×C×H×W.
tg_tensor tg_pad(tg_tensor x, const int64_t *pads, int n, int mode /*0 constant,1 reflect,2 replicate*/,
                 double value);

// ---- normalisation, activation with arguments ----
tg_tensor tg_group_norm(tg_tensor x, int64_t groups, tg_tensor w /* nullable */, tg_tensor b /* nullable */,
                        double eps);
tg_tensor tg_layer_norm(tg_tensor x, const int64_t *normalized_shape, int n, tg_tensor w /* nullable */,
                        tg_tensor b /* nullable */, double eps);
tg_tensor tg_softmax(tg_tensor x, int64_t dim);
tg_tensor tg_log_softmax(tg_tensor x, int64_t dim);
tg_tensor tg_leaky_relu(tg_tensor x, double slope);
tg_tensor tg_dropout(tg_tensor x, double p, int train);
// softmax(q k^T * scale [+ mask]) v, over the last two dimensions; attn_out receives the weights when non-NULL.
tg_tensor tg_attention(tg_tensor q, tg_tensor k, tg_tensor v, tg_tensor mask /* nullable, additive */,
                       double scale, tg_tensor *attn_out);

// ---- reductions ----
tg_tensor tg_sum(tg_tensor x, const int64_t *dims, int n, int keepdim);  // n == 0: all
tg_tensor tg_mean(tg_tensor x, const int64_t *dims, int n, int keepdim); // n == 0: all
tg_tensor tg_var(tg_tensor x, const int64_t *dims, int n, int unbiased, int keepdim);
tg_tensor tg_amax(tg_tensor x, const int64_t *dims, int n, int keepdim);
tg_tensor tg_amin(tg_tensor x, const int64_t *dims, int n, int keepdim);
tg_tensor tg_argmax(tg_tensor x, int64_t dim, int keepdim);
tg_tensor tg_argmin(tg_tensor x, int64_t dim, int keepdim);
tg_tensor tg_norm(tg_tensor x, double p, const int64_t *dims, int n, int keepdim);
tg_tensor tg_cumsum(tg_tensor x, int64_t dim);
tg_tensor tg_logsumexp(tg_tensor x, int64_t dim, int keepdim);

// ---- shape and indexing ----
tg_tensor tg_reshape(tg_tensor x, const int64_t *shape, int n);
tg_tensor tg_permute(tg_tensor x, const int64_t *dims, int n);
tg_tensor tg_transpose(tg_tensor x, int64_t d0, int64_t d1);
tg_tensor tg_expand(tg_tensor x, const int64_t *shape, int n);
tg_tensor tg_repeat(tg_tensor x, const int64_t *reps, int n);
tg_tensor tg_squeeze(tg_tensor x, int64_t dim);
tg_tensor tg_unsqueeze(tg_tensor x, int64_t dim);
tg_tensor tg_flatten(tg_tensor x, int64_t start, int64_t end);
tg_tensor tg_narrow(tg_tensor x, int64_t dim, int64_t start, int64_t length);
tg_tensor tg_slice(tg_tensor x, int64_t dim, int64_t start, int64_t end, int64_t step);
tg_tensor tg_select(tg_tensor x, int64_t dim, int64_t index);
tg_tensor tg_index_select(tg_tensor x, int64_t dim, tg_tensor index);
tg_tensor tg_gather(tg_tensor x, int64_t dim, tg_tensor index);
tg_tensor tg_scatter_add(tg_tensor x, int64_t dim, tg_tensor index, tg_tensor src);
tg_tensor tg_index_add(tg_tensor x, int64_t dim, tg_tensor index, tg_tensor src);
tg_tensor tg_masked_select(tg_tensor x, tg_tensor mask);
tg_tensor tg_cat(const tg_tensor *ts, int n, int64_t dim);
tg_tensor tg_stack(const tg_tensor *ts, int n, int64_t dim);
tg_tensor tg_flip(tg_tensor x, const int64_t *dims, int n);
tg_tensor tg_roll(tg_tensor x, int64_t shift, int64_t dim);
tg_tensor tg_tril(tg_tensor x, int64_t diagonal);
tg_tensor tg_triu(tg_tensor x, int64_t diagonal);
tg_tensor tg_embedding(tg_tensor weight, tg_tensor indices);
tg_tensor tg_one_hot(tg_tensor indices, int64_t classes);
tg_tensor tg_cross(tg_tensor a, tg_tensor b, int64_t dim);
tg_tensor tg_sort(tg_tensor x, int64_t dim, int descending, tg_tensor *indices_out);
tg_tensor tg_topk(tg_tensor x, int64_t k, int64_t dim, int largest, tg_tensor *indices_out);

// ---- in-place updates (used by optimisers under no-grad; return 0 or -1) ----
int tg_copy_(tg_tensor dst, tg_tensor src);
int tg_add_(tg_tensor t, tg_tensor other, double alpha);
int tg_mul_scalar_(tg_tensor t, double s);
int tg_add_scalar_(tg_tensor t, double s);
int tg_addcmul_(tg_tensor t, tg_tensor a, tg_tensor b, double value);
int tg_addcdiv_(tg_tensor t, tg_tensor a, tg_tensor b, double value);
int tg_lerp_(tg_tensor t, tg_tensor end, double weight);
int tg_zero_(tg_tensor t);
int tg_fill_(tg_tensor t, double value);
int tg_clamp_(tg_tensor t, double lo, double hi);

// ---- autograd ----
int tg_set_requires_grad(tg_tensor t, int requires);
int tg_requires_grad(tg_tensor t);
int tg_is_leaf(tg_tensor t);
tg_tensor tg_grad(tg_tensor t, int *defined); // *defined = 0 and NULL when no gradient yet
int tg_zero_grad(tg_tensor t);                // resets the gradient to undefined
int tg_backward(tg_tensor t, tg_tensor grad /* nullable */, int retain_graph);
// d(sum_i outputs_i * grad_outputs_i)/d inputs; results written into grads_out (NULL entries where unused).
int tg_autograd_grad(const tg_tensor *outputs, int n_out, const tg_tensor *grad_outputs /* nullable */,
                     const tg_tensor *inputs, int n_in, int create_graph, int allow_unused, tg_tensor *grads_out);


// ---- distributed (c10d, ctorch_dist.cpp) ----
// A process group: TCPStore rendezvous at master_addr:master_port (rank 0, or the launcher, hosts the store and
// waits for world_size - 1 others), then Gloo (CPU tensors) and/or NCCL (CUDA tensors, only when the shim was built
// with TG_WITH_NCCL). `timeout_ms` bounds the rendezvous and every collective: a peer that dies or hangs
// makes the call fail (return -1 / NULL with a message) instead of blocking forever. Collectives are
// blocking and in place; every rank must issue the same collectives in the same order.
typedef struct tg_dist_group_s *tg_dist_group;
typedef struct tg_dist_work_s *tg_dist_work;
enum { TG_REDUCE_SUM = 0, TG_REDUCE_MIN = 1, TG_REDUCE_MAX = 2, TG_REDUCE_PRODUCT = 3 };
int tg_dist_backend_available(const char *backend); // "gloo", "nccl": 1 when this build can create it
// host_store: 1 this process serves the TCPStore, 0 it connects to one (e.g. torchrun's agent store), -1 rank 0 serves.
// store_prefix (nullable): a key namespace inside the store.
tg_dist_group tg_dist_init(const char *backend /* gloo, nccl, gloo+nccl */, const char *master_addr, int master_port,
                           int world_size, int rank, int64_t timeout_ms, int host_store, const char *store_prefix);
void tg_dist_free(tg_dist_group g);
int tg_dist_rank(tg_dist_group g);
int tg_dist_world_size(tg_dist_group g);
int tg_dist_allreduce(tg_dist_group g, const tg_tensor *ts, int n, int op); // contiguous tensors, in place
// Starts an all-reduce of one contiguous tensor and returns at once; tg_dist_work_wait completes it.
tg_dist_work tg_dist_allreduce_async(tg_dist_group g, tg_tensor t, int op);
int tg_dist_work_wait(tg_dist_work w);
void tg_dist_work_free(tg_dist_work w);
int tg_dist_broadcast(tg_dist_group g, const tg_tensor *ts, int n, int root);
int tg_dist_barrier(tg_dist_group g);
// The rendezvous store as a small key-value exchange (keys are namespaced under "user/").
int tg_dist_store_set(tg_dist_group g, const char *key, const void *data, size_t n);
int64_t tg_dist_store_get(tg_dist_group g, const char *key, void *out, size_t capacity); // waits; returns the size
// Sets a leaf's accumulated gradient (NULL clears it); the gradient averaging of data-parallel training uses it.
int tg_set_grad(tg_tensor t, tg_tensor grad);

#ifdef __cplusplus
}
#endif
#endif
