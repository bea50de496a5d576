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
#include <stdio.h>
#include <dirent.h>
#include <unistd.h>
#include "blake3.h"

// The errno's name as Node names it (error.code). Written out instead of strerrorname_np, which
// glibc has only since 2.32. An errno not listed here is "EIO".
static const char *errno_name(int err) {
  switch (err) {
    case ENOENT: return "ENOENT"; case EPERM: return "EPERM"; case EACCES: return "EACCES";
    case ENOTDIR: return "ENOTDIR"; case EISDIR: return "EISDIR"; case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG"; case ENOMEM: return "ENOMEM"; case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE"; case ENOSPC: return "ENOSPC"; case EDQUOT: return "EDQUOT";
    case EROFS: return "EROFS"; case EINVAL: return "EINVAL"; case EBADF: return "EBADF";
    case EEXIST: return "EEXIST"; case EBUSY: return "EBUSY"; case EXDEV: return "EXDEV";
    case EFBIG: return "EFBIG"; case EOVERFLOW: return "EOVERFLOW"; case ENOTEMPTY: return "ENOTEMPTY";
    case EAGAIN: return "EAGAIN"; case EINTR: return "EINTR"; case ESTALE: return "ESTALE";
    default: return "EIO";
  }
}

// An Error for errno `err`, with Node's code ("ENOENT") and message ("syscall: text").
static napi_value errno_error(napi_env env, const char *syscall, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, message, error;
  const char *name = errno_name(err);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_set_named_property(env, error, "code", code);
  return error;
}

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  napi_throw(env, errno_error(env, syscall, err));
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

// allocate(fd: number, offset: number, length: number): boolean
// Reserves the blocks of a byte range (fallocate, mode 0: the file grows to cover it). Returns
// false, having done nothing, where the filesystem cannot (EOPNOTSUPP, ENOSYS). Why: ext4 takes
// a file's lock exclusively for a direct write into blocks not yet allocated, so the runs of a
// file written at once waited for each other; into reserved blocks they go side by side
// (4 writers of 2 MiB into new files: 0.87 GB/s, 1.6-1.8 GB/s after fallocate).
static napi_value allocate(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  int64_t off = -1, len = -1;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0
      || napi_get_value_int64(env, argv[1], &off) != napi_ok || off < 0
      || napi_get_value_int64(env, argv[2], &len) != napi_ok || len <= 0) {
    napi_throw_type_error(env, NULL, "allocate(fd, offset, length)"); return NULL;
  }
  napi_value ok;
  int rc;
  do rc = fallocate(fd, 0, (off_t)off, (off_t)len); while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EOPNOTSUPP || errno == ENOSYS) { napi_get_boolean(env, false, &ok); return ok; }
    return throw_errno(env, "fallocate", errno);
  }
  napi_get_boolean(env, true, &ok);
  return ok;
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


// True when s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
static int valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t k = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    // Bytes i+1 .. i+k must exist.
    if (k == 0 || i + k >= n) return 0;
    unsigned c1 = s[i + 1];
    if ((c1 & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && c1 < 0xa0) return 0;
    if (c == 0xed && c1 > 0x9f) return 0;
    if (c == 0xf0 && c1 < 0x90) return 0;
    if (c == 0xf4 && c1 > 0x8f) return 0;
    for (size_t j = 2; j <= k; j++) if ((s[i + j] & 0xc0) != 0x80) return 0;
    i += k + 1;
  }
  return 1;
}

static int by_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

// scanDir(dir: string): { names: string, nums: Float64Array, strs: string } | { bad: Buffer }
// A directory's entries sorted bytewise with what lstat gives, in one call: readdir, then fstatat
// on the directory's descriptor (no path walk per entry). names joins the names with "/" (which
// no name holds); per entry, nums holds mode, uid, gid, nlink, size and dev, and strs (joined with
// "/") mtime and ctime in ns and the inode, in decimal. Why joined strings: a JS value per field
// set into arrays cost 3 us per entry, a split in JS costs a fraction. An entry gone before its
// stat is left out; the first name that is not UTF-8 comes back alone, as `bad`.
static napi_value scan_dir(napi_env env, napi_callback_info info) {
  size_t argc = 1, plen = 0;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &plen) != napi_ok) { napi_throw_type_error(env, NULL, "scanDir(dir: string)"); return NULL; }
  char *dir = malloc(plen + 1);
  if (!dir) return throw_errno(env, "scandir", ENOMEM);
  napi_get_value_string_utf8(env, argv[0], dir, plen + 1, &plen);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(dir);
  if (fd < 0) return throw_errno(env, "scandir", errno);
  DIR *d = fdopendir(fd);
  if (!d) { int e = errno; close(fd); return throw_errno(env, "scandir", e); }
  size_t n = 0, cap = 64, namebytes = 0;
  char **names = malloc(cap * sizeof *names);
  struct dirent *de;
  int err = names ? 0 : ENOMEM;
  errno = 0;
  while (!err && (de = readdir(d))) {
    if (de->d_name[0] == '.' && (de->d_name[1] == 0 || (de->d_name[1] == '.' && de->d_name[2] == 0))) continue;
    if (n == cap) { char **m = realloc(names, (cap *= 2) * sizeof *names); if (!m) { err = ENOMEM; break; } names = m; }
    if (!(names[n] = strdup(de->d_name))) { err = ENOMEM; break; }
    namebytes += strlen(names[n]) + 1;
    n++;
  }
  if (!err && errno) err = errno;
  struct stat *sts = err ? NULL : malloc((n ? n : 1) * sizeof *sts);
  char *keep = err ? NULL : calloc(n ? n : 1, 1);
  char *nbuf = err ? NULL : malloc(namebytes + 1);
  char *sbuf = err ? NULL : malloc(n * 63 + 1);
  if (!err && (!sts || !keep || !nbuf || !sbuf)) err = ENOMEM;
  size_t kept = 0;
  const char *bad = NULL;
  if (!err) {
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n && !bad; i++) {
      if (!valid_utf8((const unsigned char *)names[i], strlen(names[i]))) { bad = names[i]; break; }
      if (fstatat(dirfd(d), names[i], &sts[i], AT_SYMLINK_NOFOLLOW) == 0) { keep[i] = 1; kept++; }
      else if (errno != ENOENT) { err = errno; break; }
    }
  }
  closedir(d);
  napi_value result = NULL, v;
  if (!err && bad) {
    napi_create_object(env, &result);
    napi_create_buffer_copy(env, strlen(bad), bad, NULL, &v);
    napi_set_named_property(env, result, "bad", v);
  } else if (!err) {
    napi_value ab, nums;
    double *num;
    napi_create_arraybuffer(env, (kept ? kept : 1) * 6 * sizeof(double), (void **)&num, &ab);
    napi_create_typedarray(env, napi_float64_array, kept * 6, ab, 0, &nums);
    size_t np = 0, sp = 0, j = 0;
    for (size_t i = 0; i < n; i++) {
      if (!keep[i]) continue;
      size_t len = strlen(names[i]);
      if (j) nbuf[np++] = '/';
      memcpy(nbuf + np, names[i], len);
      np += len;
      const struct stat *st = &sts[i];
      num[j * 6] = st->st_mode; num[j * 6 + 1] = st->st_uid; num[j * 6 + 2] = st->st_gid;
      num[j * 6 + 3] = (double)st->st_nlink; num[j * 6 + 4] = (double)st->st_size; num[j * 6 + 5] = (double)st->st_dev;
      long long m = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
      long long c = (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
      sp += (size_t)sprintf(sbuf + sp, "%s%lld/%lld/%llu", j ? "/" : "", m, c, (unsigned long long)st->st_ino);
      j++;
    }
    napi_create_object(env, &result);
    napi_create_string_utf8(env, nbuf, np, &v);
    napi_set_named_property(env, result, "names", v);
    napi_set_named_property(env, result, "nums", nums);
    napi_create_string_latin1(env, sbuf, sp, &v);
    napi_set_named_property(env, result, "strs", v);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names); free(sts); free(keep); free(nbuf); free(sbuf);
  if (err) return throw_errno(env, "scandir", err);
  return result;
}

// blake3(key: 32 bytes, data, out, outStart): writes the keyed BLAKE3 hash of data to out at outStart.
// Synchronous on purpose: it runs in the chunk workers, on at most a few MiB (under 1 ms).
static napi_value blake3(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *key, *data, *out;
  size_t klen, dlen, olen;
  int64_t at;
  if (argc < 4 || !bytes_of(env, argv[0], &key, &klen) || klen != 32 || !bytes_of(env, argv[1], &data, &dlen) ||
      !bytes_of(env, argv[2], &out, &olen) || napi_get_value_int64(env, argv[3], &at) != napi_ok) {
    napi_throw_type_error(env, NULL, "blake3(key: 32-byte Uint8Array, data: Uint8Array, out: Uint8Array, outStart: number)");
    return NULL;
  }
  if (at < 0 || (size_t)at > olen || olen - (size_t)at < 32) { napi_throw_range_error(env, NULL, "blake3: the hash does not fit the output"); return NULL; }
  if (dm_blake3_keyed(key, data, dlen, out + at) != 0) { napi_throw_error(env, "ENOMEM", "blake3: out of memory"); return NULL; }
  return NULL;
}

#ifdef __linux__
// syncFs(path: string): Promise<void>. syncfs(2) on the filesystem that holds `path`, on libuv's
// thread pool: every dirty page and inode of that filesystem reaches the disk, then the disk's
// cache is flushed. Why one call: a checkout writes thousands of small files through the page
// cache, and an fsync of each costs a journal commit each (seconds for 2,000 uploads).
typedef struct { napi_async_work work; napi_deferred deferred; char *path; int err; const char *call; } sync_job;

static void sync_execute(napi_env env, void *data) {
  (void)env;
  sync_job *j = data;
  int fd = open(j->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { j->err = errno; j->call = "open"; return; }
  if (syncfs(fd) != 0) { j->err = errno; j->call = "syncfs"; }
  close(fd);
}

static void sync_complete(napi_env env, napi_status status, void *data) {
  sync_job *j = data;
  if (status == napi_ok && !j->err) {
    napi_value u;
    napi_get_undefined(env, &u);
    napi_resolve_deferred(env, j->deferred, u);
  } else {
    napi_reject_deferred(env, j->deferred, errno_error(env, j->call ? j->call : "syncfs", j->err ? j->err : EIO));
  }
  napi_delete_async_work(env, j->work);
  free(j->path);
  free(j);
}

static napi_value sync_fs(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1], promise, name;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) { napi_throw_type_error(env, NULL, "syncFs(path: string)"); return NULL; }
  sync_job *j = calloc(1, sizeof *j);
  if (!j || !(j->path = malloc(len + 1))) { free(j); return throw_errno(env, "syncfs", ENOMEM); }
  napi_get_value_string_utf8(env, argv[0], j->path, len + 1, &len);
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "dmfs.syncFs", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, sync_execute, sync_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}
#endif

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "lutimesNs", NAPI_AUTO_LENGTH, lutimes_ns, NULL, &fn);
  napi_set_named_property(env, exports, "lutimesNs", fn);
  napi_create_function(env, "futimesNs", NAPI_AUTO_LENGTH, futimes_ns, NULL, &fn);
  napi_set_named_property(env, exports, "futimesNs", fn);
  napi_create_function(env, "copyBytes", NAPI_AUTO_LENGTH, copy_bytes, NULL, &fn);
  napi_set_named_property(env, exports, "copyBytes", fn);
  napi_create_function(env, "allocate", NAPI_AUTO_LENGTH, allocate, NULL, &fn);
  napi_set_named_property(env, exports, "allocate", fn);
  napi_create_function(env, "scanDir", NAPI_AUTO_LENGTH, scan_dir, NULL, &fn);
  napi_set_named_property(env, exports, "scanDir", fn);
  napi_create_function(env, "blake3", NAPI_AUTO_LENGTH, blake3, NULL, &fn);
  napi_set_named_property(env, exports, "blake3", fn);
#ifdef __linux__
  napi_create_function(env, "syncFs", NAPI_AUTO_LENGTH, sync_fs, NULL, &fn);
  napi_set_named_property(env, exports, "syncFs", fn);
#endif
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
