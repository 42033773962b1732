// C11 threads for ThreadSanitizer builds only (JIRITSU_SANITIZE=thread).
//
// Why: Debian's librdkafka creates its threads and locks its mutexes with the
// C11 <threads.h> API. glibc implements thrd_create, mtx_lock, cnd_wait ...
// by calling its internal pthread functions directly, so GCC 12's TSan
// intercepts none of them: a librdkafka thread runs without TSan state and
// crashes at its first intercepted malloc (SIGSEGV in
// SizeClassAllocator64LocalCache::Allocate, seen in every Kafka test), and
// librdkafka's locking is invisible (false races). This file, linked into the
// executables of a TSan build, defines those C11 functions on top of the
// public pthread functions, which TSan intercepts; the dynamic linker binds
// librdkafka's references to these definitions (the executable comes first).
// The C11 types are the pthread types in glibc (mtx_t = pthread_mutex_t,
// cnd_t = pthread_cond_t, thrd_t = pthread_t, once_flag = pthread_once_t).
//
// Never linked into a normal build. Thread-safety: as pthreads.
#include <pthread.h>
#include <threads.h>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <new>
namespace {
struct Start { thrd_start_t fn; void* arg; };
void* Trampoline(void* p) {
  Start start = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.fn(start.arg)));
}
int FromPthread(int rc) {
  return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : rc == EBUSY ? thrd_busy
       : rc == ENOMEM || rc == EAGAIN ? thrd_nomem : thrd_error;
}
pthread_mutex_t* M(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* C(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }
}  // namespace
extern "C" {
int thrd_create(thrd_t* thr, thrd_start_t fn, void* arg) {
  auto* start = new (std::nothrow) Start{fn, arg};
  if (start == nullptr) return thrd_nomem;
  const int rc = pthread_create(reinterpret_cast<pthread_t*>(thr), nullptr, &Trampoline, start);
  if (rc != 0) delete start;
  return FromPthread(rc);
}
int thrd_join(thrd_t thr, int* res) {
  void* value = nullptr;
  const int rc = pthread_join(static_cast<pthread_t>(thr), &value);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(value));
  return FromPthread(rc);
}
int thrd_detach(thrd_t thr) { return FromPthread(pthread_detach(static_cast<pthread_t>(thr))); }
int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(M(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return FromPthread(rc);
}
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(M(m)); }
int mtx_lock(mtx_t* m) { return FromPthread(pthread_mutex_lock(M(m))); }
int mtx_trylock(mtx_t* m) { return FromPthread(pthread_mutex_trylock(M(m))); }
int mtx_timedlock(mtx_t* m, const struct timespec* t) { return FromPthread(pthread_mutex_timedlock(M(m), t)); }
int mtx_unlock(mtx_t* m) { return FromPthread(pthread_mutex_unlock(M(m))); }
int cnd_init(cnd_t* c) { return FromPthread(pthread_cond_init(C(c), nullptr)); }
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(C(c)); }
int cnd_signal(cnd_t* c) { return FromPthread(pthread_cond_signal(C(c))); }
int cnd_broadcast(cnd_t* c) { return FromPthread(pthread_cond_broadcast(C(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return FromPthread(pthread_cond_wait(C(c), M(m))); }
int cnd_timedwait(cnd_t* c, mtx_t* m, const struct timespec* t) {
  return FromPthread(pthread_cond_timedwait(C(c), M(m), t));
}
void call_once(once_flag* flag, void (*fn)(void)) {
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), fn);
}
}  // extern "C"
