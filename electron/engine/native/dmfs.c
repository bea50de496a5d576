// dmfs: the file-metadata calls Node's fs cannot make exactly.
// Node's fs.utimes takes seconds as a double (about 0.2 us precision today),
// so nanosecond mtimes (PostgreSQL, git-like stat caches) need utimensat.
#define _GNU_SOURCE
#include <node_api.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <stdint.h>

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, message, error;
  const char *name = err == ENOENT ? "ENOENT" : err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

// lutimesNs(path: string, atimeNs: bigint, mtimeNs: bigint): void  (does not follow symlinks)
static napi_value lutimes_ns(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) { napi_throw_type_error(env, NULL, "lutimesNs(path, atimeNs, mtimeNs)"); return NULL; }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) { napi_throw_type_error(env, NULL, "path must be a string"); return NULL; }
  char *p = malloc(len + 1);
  napi_get_value_string_utf8(env, argv[0], p, len + 1, &len);
  int64_t at = 0, mt = 0;
  bool lossless;
  if (napi_get_value_bigint_int64(env, argv[1], &at, &lossless) != napi_ok || napi_get_value_bigint_int64(env, argv[2], &mt, &lossless) != napi_ok) {
    free(p); napi_throw_type_error(env, NULL, "times must be bigint nanoseconds"); return NULL;
  }
  struct timespec ts[2];
  ts[0].tv_sec = at / 1000000000LL; ts[0].tv_nsec = at % 1000000000LL;
  ts[1].tv_sec = mt / 1000000000LL; ts[1].tv_nsec = mt % 1000000000LL;
  if (ts[0].tv_nsec < 0) { ts[0].tv_nsec += 1000000000LL; ts[0].tv_sec -= 1; }
  if (ts[1].tv_nsec < 0) { ts[1].tv_nsec += 1000000000LL; ts[1].tv_sec -= 1; }
  int rc = utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
  int err = errno;
  free(p);
  if (rc != 0) return throw_errno(env, "utimensat", err);
  return NULL;
}

// futimesNs(fd: number, atimeNs: bigint, mtimeNs: bigint): void  (checkout sets a new file's times before closing it)
static napi_value futimes_ns(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) { napi_throw_type_error(env, NULL, "futimesNs(fd, atimeNs, mtimeNs)"); return NULL; }
  int32_t fd = -1;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) { napi_throw_type_error(env, NULL, "fd must be a descriptor"); return NULL; }
  int64_t at = 0, mt = 0;
  bool lossless;
  if (napi_get_value_bigint_int64(env, argv[1], &at, &lossless) != napi_ok || napi_get_value_bigint_int64(env, argv[2], &mt, &lossless) != napi_ok) {
    napi_throw_type_error(env, NULL, "times must be bigint nanoseconds"); return NULL;
  }
  struct timespec ts[2];
  ts[0].tv_sec = at / 1000000000LL; ts[0].tv_nsec = at % 1000000000LL;
  ts[1].tv_sec = mt / 1000000000LL; ts[1].tv_nsec = mt % 1000000000LL;
  if (ts[0].tv_nsec < 0) { ts[0].tv_nsec += 1000000000LL; ts[0].tv_sec -= 1; }
  if (ts[1].tv_nsec < 0) { ts[1].tv_nsec += 1000000000LL; ts[1].tv_sec -= 1; }
  if (futimens(fd, ts) != 0) return throw_errno(env, "futimens", errno);
  return NULL;
}

// Pointer and length of a Uint8Array / Buffer argument (also over a SharedArrayBuffer).
static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  *data = p;
  return 1;
}

// copyBytes(target: Uint8Array, targetStart: number, source: Uint8Array): void
// Why: Buffer#copy from shared memory runs V8's relaxed (word by word, atomic-safe) memmove,
// which made copying the stored forms of chunks out of the workers' shared blocks a sixth of
// the main thread's time in a first commit. Nothing writes these bytes while they are copied.
static napi_value copy_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *dst, *src;
  size_t dlen, slen;
  int64_t at;
  if (argc < 3 || !bytes_of(env, argv[0], &dst, &dlen) || napi_get_value_int64(env, argv[1], &at) != napi_ok || !bytes_of(env, argv[2], &src, &slen)) {
    napi_throw_type_error(env, NULL, "copyBytes(target: Uint8Array, targetStart: number, source: Uint8Array)");
    return NULL;
  }
  if (at < 0 || (size_t)at > dlen || slen > dlen - (size_t)at) { napi_throw_range_error(env, NULL, "copyBytes: source does not fit the target"); return NULL; }
  memmove(dst + at, src, slen);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "lutimesNs", NAPI_AUTO_LENGTH, lutimes_ns, NULL, &fn);
  napi_set_named_property(env, exports, "lutimesNs", fn);
  napi_create_function(env, "futimesNs", NAPI_AUTO_LENGTH, futimes_ns, NULL, &fn);
  napi_set_named_property(env, exports, "futimesNs", fn);
  napi_create_function(env, "copyBytes", NAPI_AUTO_LENGTH, copy_bytes, NULL, &fn);
  napi_set_named_property(env, exports, "copyBytes", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
