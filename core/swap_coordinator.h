// SwapCoordinator: the file handshake that lets `jiritsu replay` swap a
// rebuilt generation in while `jiritsu run` keeps serving (no downtime for
// queries, a short pause of live updates), and roll back the same way.
//
// Files in the ViewGenerations root (core/view_generations.h), each written
// atomically (temp + rename), "key=value" lines:
//   RUNNING        pid, host: a runner serves this root (written by the runner)
//   SWAP-REQUEST   generation, pid, host: a replay wants to change CURRENT
//   SWAP-READY     generation, pid: the runner checkpointed and closed its
//                  store (written by the runner)
//   SWAP-DONE      result=promoted|aborted, generation, reason (replay)
//
// Sequence (replay R, runner W):
//   R: RequestSwap(n)            -> SWAP-REQUEST
//   R: RunnerActive()? no: R swaps alone (catch up to the log end, Promote),
//      FinishSwap(n, false) removes SWAP-REQUEST.
//   W: SwapRequested() -> stop the runtime (final checkpoint), close the
//      store, AcknowledgeAndWait() -> SWAP-READY, then waits
//   R: WaitForReady() -> catch the shadow up to exactly the live offsets,
//      Promote(n), FinishSwap(n, true) -> SWAP-DONE, SWAP-REQUEST removed
//   W: sees SWAP-DONE, removes SWAP-DONE and SWAP-READY, reopens CURRENT.
// Whatever the outcome (promoted, aborted, replay died), the runner reopens
// whatever CURRENT names: it never keeps a store open across a handshake.
//
// Why it is safe without a lock service: the runner writes RUNNING before it
// looks for SWAP-REQUEST and opens a store; the replay writes SWAP-REQUEST
// before it looks for RUNNING. So either the runner sees the request before
// opening, or the replay sees the runner and waits for it (Dekker's
// argument; both files are renamed into place and fsync'd).
//
// Runner usage (`jiritsu run`): MarkRunning() before opening any store; then
// RunServingSwaps() (or the same loop by hand); ClearRunning() on exit.
//
// Lifecycle: cheap value object over the root; every call re-reads files.
// Thread-safety: methods are safe from several threads and processes; one
// runner and one replay per root (replays serialise on a lock in Replayer).
// Failure: file errors -> kIOError naming the path; a timeout ->
// kDeadlineExceeded; malformed files -> kCorruption.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>

#include "core/projection_runtime.h"
#include "core/status.h"
#include "core/view_generations.h"

namespace jiritsu {

inline constexpr char kRunningFile[] = "RUNNING";
inline constexpr char kSwapRequestFile[] = "SWAP-REQUEST";
inline constexpr char kSwapReadyFile[] = "SWAP-READY";
inline constexpr char kSwapDoneFile[] = "SWAP-DONE";

struct SwapOutcome {
  bool promoted = false;  // CURRENT changed to `generation`
  int generation = 0;
  std::string reason;     // why not, when not promoted
};

class SwapCoordinator {
 public:
  explicit SwapCoordinator(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  // ---- runner side (`jiritsu run`) ----
  // Records this process as the runner of the root. kFailedPrecondition when
  // another live process (this host) is recorded.
  Status MarkRunning();
  // Removes RUNNING if this process wrote it.
  Status ClearRunning();
  // Cheap (one stat): a replay asked for a swap.
  bool SwapRequested() const;
  // Call once the runtime stopped (final checkpoint) and its store is closed:
  // writes SWAP-READY naming `released_generation`, then waits until the
  // replay finished or aborted, the replay process died, or `stop` became
  // true. Cleans up SWAP-READY/SWAP-DONE. Then reopen CURRENT.
  Result<SwapOutcome> AcknowledgeAndWait(int released_generation,
                                         const std::atomic<bool>* stop = nullptr,
                                         std::chrono::milliseconds poll = std::chrono::milliseconds(20));

  // ---- replay side ----
  // True when RUNNING names a live process (a process on another host is
  // assumed alive). A RUNNING file of a dead pid is stale: false.
  Result<bool> RunnerActive() const;
  // Writes SWAP-REQUEST for `generation` (removing stale READY/DONE files).
  Status RequestSwap(int generation);
  // Waits for SWAP-READY. kDeadlineExceeded after `timeout`; kUnavailable if
  // the runner died meanwhile (the caller may then proceed without it);
  // kFailedPrecondition when `stop` became true.
  Status WaitForReady(std::chrono::milliseconds timeout, const std::atomic<bool>* stop = nullptr);
  // The runner is still waiting (SWAP-READY present): checked just before
  // promoting, so a runner that gave up is never swapped under.
  bool ReadyPresent() const;
  // Ends a request: with `acknowledged`, SWAP-DONE tells the runner; without,
  // only SWAP-REQUEST is removed.
  Status FinishSwap(int generation, bool acknowledged);
  Status AbortSwap(const std::string& reason, bool acknowledged);

 private:
  std::string PathOf(const char* name) const { return root_ + "/" + name; }
  std::string root_;
};

// The runner loop of `jiritsu run`, reusable by tests and the HTTP service:
// repeatedly resolves CURRENT (ViewGenerations::CurrentDirOrCreate), builds
// a runtime for it with `make_runtime(dir)`, and runs it; a watcher thread
// stops the runtime when a swap is requested or `stop` becomes true; then the
// store is closed, the swap acknowledged, and CURRENT reopened. Calls
// MarkRunning/ClearRunning itself. Returns OK once `stop` is set (after the
// runtime's final checkpoint), or the first runtime error. A runtime that
// returns on its own (until_caught_up) ends the loop too.
using RuntimeMaker =
    std::function<Result<std::unique_ptr<ProjectionRuntime>>(const std::string& store_dir)>;
Status RunServingSwaps(const std::string& views_root, const RuntimeMaker& make_runtime,
                       const std::atomic<bool>& stop);

// True if `pid` names a live process on this host.
bool ProcessAlive(pid_t pid);

}  // namespace jiritsu
