import Dispatch

/// Every second, a line of progress (published, rate, acknowledged, errors) handed to `output` from a timer
/// queue of its own.
public final class ProgressReporter: @unchecked Sendable {
    // @unchecked: the timer is set up in init and afterwards only cancelled, which Dispatch allows from any thread.
    private let timer: any DispatchSourceTimer
    private let queue = DispatchQueue(label: "kappa-sim.progress")

    public init(statistics: RunStatistics, interval: Duration = .seconds(1), output: @escaping @Sendable (String) -> Void) {
        timer = DispatchSource.makeTimerSource(queue: queue)
        let started = ContinuousClock.now
        let previous = LockedCount()
        timer.schedule(deadline: .now() + .milliseconds(Int(interval.components.seconds * 1_000)), repeating: .milliseconds(Int(interval.components.seconds * 1_000)))
        timer.setEventHandler {
            let published = statistics.published
            let rate = published - previous.exchange(published)
            let elapsed = ContinuousClock.now - started
            output("[\(elapsed.components.seconds)s] published \(published) (\(rate)/s), acknowledged \(statistics.acknowledged), errors \(statistics.errors)")
        }
        timer.resume()
    }

    public func stop() {
        timer.cancel()
    }
}

import Synchronization

private final class LockedCount: Sendable {
    private let value = Atomic(0)

    func exchange(_ new: Int) -> Int { value.exchange(new, ordering: .relaxed) }
}
