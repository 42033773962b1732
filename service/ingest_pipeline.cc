#include "service/ingest_pipeline.h"

#include "core/logging.h"
#include "core/thread_name.h"

namespace jiritsu::service {

// Routes the Ingestor's rejection reasons to the items of the commit being
// ingested, by line number (the commit's lines are numbered from
// `first_line`).
class IngestPipeline::CaptureSink : public RejectSink {
 public:
  Status Reject(int64_t line_number, std::string_view reason, std::string_view) override {
    const int64_t at = line_number - first_line;
    if (at >= 0 && static_cast<size_t>(at) < targets.size()) *targets[at] = std::string(reason);
    return Status::Ok();
  }
  int64_t first_line = 0;
  std::vector<std::string*> targets;
};

IngestPipeline::IngestPipeline(EventLog* log, DedupeIndex* index, MetricsRegistry* metrics,
                               const Options& options)
    : log_(log), index_(index), metrics_(metrics), options_(options),
      sink_(std::make_unique<CaptureSink>()) {}

Result<std::unique_ptr<IngestPipeline>> IngestPipeline::Start(EventLog* log, DedupeIndex* index,
                                                              MetricsRegistry* metrics,
                                                              const Options& options) {
  if (log == nullptr || index == nullptr || metrics == nullptr) {
    return InvalidArgument("IngestPipeline needs a log, a dedupe index and metrics");
  }
  std::unique_ptr<IngestPipeline> pipeline(new IngestPipeline(log, index, metrics, options));
  pipeline->writer_ = std::thread([p = pipeline.get()] {
    NameCurrentThread("jr-ingest");
    p->WriterLoop();
  });
  return pipeline;
}

IngestPipeline::~IngestPipeline() { Stop(); }

void IngestPipeline::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

Result<std::future<SubmitResult>> IngestPipeline::Submit(std::vector<IngestItem> items) {
  auto request = std::make_unique<Request>();
  const size_t count = items.size();
  request->items = std::move(items);
  std::future<SubmitResult> future = request->promise.get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return Unavailable("ingestion is shutting down");
    if (queued_events_.load() + count > options_.max_queued_events) {
      return ResourceExhausted("ingestion queue full (" + std::to_string(queued_events_.load()) +
                               " events queued, limit " +
                               std::to_string(options_.max_queued_events) + ")");
    }
    queued_events_ += count;
    queue_.push_back(std::move(request));
  }
  wake_.notify_one();
  return future;
}

void IngestPipeline::WriterLoop() {
  for (;;) {
    std::vector<std::unique_ptr<Request>> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty()) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    Commit(&batch);
  }
}

void IngestPipeline::Commit(std::vector<std::unique_ptr<Request>>* batch) {
  Status status;
  std::vector<SubmitResult> results(batch->size());
  if (!ingestor_) {
    IngestOptions options;
    // Only Commit flushes (plus the Ingestor's own drain when the producer
    // queue is full), so a 202 always follows a flush.
    options.flush_every_lines = options_.max_queued_events + 1;
    options.flush_timeout = options_.flush_timeout;
    options.key_store = options_.key_store;
    Result<std::unique_ptr<Ingestor>> created = Ingestor::Create(log_, index_, sink_.get(), options);
    if (created.ok()) {
      ingestor_ = std::move(created).value();
    } else {
      status = created.status();
    }
  }
  if (status.ok()) {
    // The whole commit is one batch: the keys of its new employees are
    // created together (one directory fsync), before any event is appended.
    std::vector<Ingestor::BatchLine> lines;
    std::vector<ItemResult*> items;
    sink_->first_line = line_number_ + 1;
    sink_->targets.clear();
    for (size_t r = 0; r < batch->size(); ++r) {
      Request& request = *(*batch)[r];
      results[r].items.resize(request.items.size());
      for (size_t i = 0; i < request.items.size(); ++i) {
        lines.push_back(Ingestor::BatchLine{++line_number_, request.items[i].json});
        items.push_back(&results[r].items[i]);
        sink_->targets.push_back(&results[r].items[i].reason);
      }
    }
    Result<std::vector<LineOutcome>> outcomes = ingestor_->IngestLines(lines);
    sink_->targets.clear();
    if (!outcomes.ok()) {
      status = outcomes.status();
    } else {
      for (size_t i = 0; i < items.size(); ++i) items[i]->outcome = (*outcomes)[i];
    }
  }
  if (status.ok()) status = ingestor_->Flush();
  if (!status.ok()) {
    ModuleLogger("service")->error("ingestion commit failed: {}", status.ToString());
    ingestor_.reset();  // never mark identities of events that may not be durable
    log_healthy_.store(false);
    metrics_->GetCounter("jiritsu_ingest_commit_failures_total",
                         "Ingestion commits that failed (log append or flush)")->Increment();
  } else {
    log_healthy_.store(true);
  }
  size_t events = 0;
  for (size_t r = 0; r < batch->size(); ++r) {
    Request& request = *(*batch)[r];
    events += request.items.size();
    if (status.ok()) {
      for (size_t i = 0; i < request.items.size(); ++i) {
        const char* outcome = results[r].items[i].outcome == LineOutcome::kAccepted    ? "accepted"
                              : results[r].items[i].outcome == LineOutcome::kDuplicate ? "duplicate"
                                                                                       : "rejected";
        metrics_->GetCounter("jiritsu_ingest_events_total",
                             "Events offered to ingestion by outcome and type",
                             {{"outcome", outcome}, {"type", request.items[i].type}})
            ->Increment();
      }
    }
    results[r].status = status;
    request.promise.set_value(std::move(results[r]));
  }
  metrics_->GetCounter("jiritsu_ingest_commits_total", "Ingestion group commits (log flushes)")
      ->Increment();
  queued_events_ -= events;
}

}  // namespace jiritsu::service
