import Dispatch

/// A task executor that runs jobs one at a time, in the order they were enqueued, on a dispatch queue.
///
/// The publisher relies on that order: a task started to send a batch's last message runs before the
/// publishing task resumes from `Task.yield()`, so that message leaves before the next batch.
final class SerialQueueExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: the only state is a serial DispatchQueue, which is thread-safe.
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
