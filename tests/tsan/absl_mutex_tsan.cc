// ThreadSanitizer and Debian's Abseil: absl::Mutex, absl::CondVar and
// absl::Notification live in libabsl_synchronization.so, which Debian does not
// build with TSan, so TSan never sees them lock or unlock; every access guarded
// by an absl::Mutex would be reported as a race. Abseil annotates its mutex for
// TSan only when it is compiled with it (ABSL_TSAN_MUTEX_* in mutex.cc).
//
// This file adds those annotations from outside, for the TSan build only
// (tests/tsan/CMakeLists.txt): the linker's --wrap sends every call our code
// makes to Mutex::Lock, Unlock, ReaderLock, ReaderUnlock, TryLock,
// ReaderTryLock, ~Mutex, CondVar::Wait*, Notification::Notify and
// Notification::WaitForNotification* here; each tells TSan what the real
// function (__real_...) does, around calling it. Calls inside the
// library itself are not wrapped (its code is not instrumented either).
// Third-party code, not a suppression: nothing of tqdb's is hidden.
#include <sanitizer/tsan_interface.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

// TQDB_ABSL_PREFIX: "_ZN4absl" plus Abseil's inline namespace, mangled
// (e.g. _ZN4absl7debian3), from tests/tsan/CMakeLists.txt.
#define TQDB_CAT2(a, b) a##b
#define TQDB_CAT(a, b) TQDB_CAT2(a, b)
#define REAL(sym) TQDB_CAT(__real_, TQDB_CAT(TQDB_ABSL_PREFIX, sym))
#define WRAP(sym) TQDB_CAT(__wrap_, TQDB_CAT(TQDB_ABSL_PREFIX, sym))
// Const member functions (_ZNK...).
#define REALK(sym) TQDB_CAT(__real_, TQDB_CAT(TQDB_ABSL_CONST_PREFIX, sym))
#define WRAPK(sym) TQDB_CAT(__wrap_, TQDB_CAT(TQDB_ABSL_CONST_PREFIX, sym))

using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Notification;
using absl::Time;

extern "C" {

void REAL(5Mutex4LockEv)(Mutex* mu);
void REAL(5Mutex6UnlockEv)(Mutex* mu);
void REAL(5Mutex10ReaderLockEv)(Mutex* mu);
void REAL(5Mutex12ReaderUnlockEv)(Mutex* mu);
bool REAL(5Mutex7TryLockEv)(Mutex* mu);
bool REAL(5Mutex13ReaderTryLockEv)(Mutex* mu);
void REAL(5MutexD1Ev)(Mutex* mu);
void REAL(5MutexD2Ev)(Mutex* mu);
void REAL(7CondVar4WaitEPNS0_5MutexE)(CondVar* cv, Mutex* mu);
bool REAL(7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE)(CondVar* cv,
                                                                Mutex* mu,
                                                                Duration d);
bool REAL(7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE)(CondVar* cv,
                                                             Mutex* mu, Time t);

void WRAP(5Mutex4LockEv)(Mutex* mu) {
  __tsan_mutex_pre_lock(mu, 0);
  REAL(5Mutex4LockEv)(mu);
  __tsan_mutex_post_lock(mu, 0, 0);
}

void WRAP(5Mutex6UnlockEv)(Mutex* mu) {
  __tsan_mutex_pre_unlock(mu, 0);
  REAL(5Mutex6UnlockEv)(mu);
  __tsan_mutex_post_unlock(mu, 0);
}

void WRAP(5Mutex10ReaderLockEv)(Mutex* mu) {
  __tsan_mutex_pre_lock(mu, __tsan_mutex_read_lock);
  REAL(5Mutex10ReaderLockEv)(mu);
  __tsan_mutex_post_lock(mu, __tsan_mutex_read_lock, 0);
}

void WRAP(5Mutex12ReaderUnlockEv)(Mutex* mu) {
  __tsan_mutex_pre_unlock(mu, __tsan_mutex_read_lock);
  REAL(5Mutex12ReaderUnlockEv)(mu);
  __tsan_mutex_post_unlock(mu, __tsan_mutex_read_lock);
}

bool WRAP(5Mutex7TryLockEv)(Mutex* mu) {
  __tsan_mutex_pre_lock(mu, __tsan_mutex_try_lock);
  const bool locked = REAL(5Mutex7TryLockEv)(mu);
  __tsan_mutex_post_lock(
      mu, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed),
      0);
  return locked;
}

bool WRAP(5Mutex13ReaderTryLockEv)(Mutex* mu) {
  const unsigned flags = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(mu, flags);
  const bool locked = REAL(5Mutex13ReaderTryLockEv)(mu);
  __tsan_mutex_post_lock(
      mu, flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

void WRAP(5MutexD1Ev)(Mutex* mu) {
  __tsan_mutex_destroy(mu, 0);
  REAL(5MutexD1Ev)(mu);
}

void WRAP(5MutexD2Ev)(Mutex* mu) {
  __tsan_mutex_destroy(mu, 0);
  REAL(5MutexD2Ev)(mu);
}

// A wait releases the mutex (held exclusively: tqdb never waits holding it
// shared) and takes it again before returning.
void WRAP(7CondVar4WaitEPNS0_5MutexE)(CondVar* cv, Mutex* mu) {
  __tsan_mutex_pre_unlock(mu, 0);
  __tsan_mutex_post_unlock(mu, 0);
  REAL(7CondVar4WaitEPNS0_5MutexE)(cv, mu);
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
}

bool WRAP(7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE)(CondVar* cv,
                                                                Mutex* mu,
                                                                Duration d) {
  __tsan_mutex_pre_unlock(mu, 0);
  __tsan_mutex_post_unlock(mu, 0);
  const bool timed_out =
      REAL(7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE)(cv, mu, d);
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
  return timed_out;
}

bool WRAP(7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE)(CondVar* cv,
                                                             Mutex* mu,
                                                             Time t) {
  __tsan_mutex_pre_unlock(mu, 0);
  __tsan_mutex_post_unlock(mu, 0);
  const bool timed_out =
      REAL(7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE)(cv, mu, t);
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
  return timed_out;
}

void REAL(12Notification6NotifyEv)(Notification* n);
void REALK(12Notification19WaitForNotificationEv)(const Notification* n);
bool REALK(12Notification30WaitForNotificationWithTimeoutENS0_8DurationE)(
    const Notification* n, Duration d);
bool REALK(12Notification31WaitForNotificationWithDeadlineENS0_4TimeE)(
    const Notification* n, Time t);

// What happened before Notify() happens before a wait that saw it.
void WRAP(12Notification6NotifyEv)(Notification* n) {
  __tsan_release(n);
  REAL(12Notification6NotifyEv)(n);
}

void WRAPK(12Notification19WaitForNotificationEv)(const Notification* n) {
  REALK(12Notification19WaitForNotificationEv)(n);
  __tsan_acquire(const_cast<Notification*>(n));
}

bool WRAPK(12Notification30WaitForNotificationWithTimeoutENS0_8DurationE)(
    const Notification* n, Duration d) {
  const bool notified = REALK(
      12Notification30WaitForNotificationWithTimeoutENS0_8DurationE)(n, d);
  if (notified) __tsan_acquire(const_cast<Notification*>(n));
  return notified;
}

bool WRAPK(12Notification31WaitForNotificationWithDeadlineENS0_4TimeE)(
    const Notification* n, Time t) {
  const bool notified =
      REALK(12Notification31WaitForNotificationWithDeadlineENS0_4TimeE)(n, t);
  if (notified) __tsan_acquire(const_cast<Notification*>(n));
  return notified;
}

}  // extern "C"
