import Dispatch
import Foundation
import KappaCore
import KappaStream
import Logging
import ServiceLifecycle
import Synchronization

/// Sends each new anomaly episode to an HTTP endpoint as a JSON POST (one episode per request, as the
/// episode's JSON or in Alertmanager's format), retrying with backoff until the receiver answers 2xx.
///
/// `announce` only queues, so the anomaly processor never waits for the network; a dedicated thread does
/// the blocking I/O. The queue is bounded: when it is full (the receiver has been down a long time) new
/// alerts are dropped and counted, as are alerts whose retries ran out. The episodes themselves are in
/// PostgreSQL either way. On shutdown the thread gets a few seconds to deliver what is queued.
public final class WebhookAlertSink: AnomalyAlertSink, Service {
    public struct Configuration: Sendable {
        public var url: WebhookURL
        public var format: AlertSettings.WebhookFormat
        public var queueLimit = 10_000
        public var maximumAttempts = 10
        public var firstRetryDelay: Duration = .milliseconds(200)
        public var longestRetryDelay: Duration = .seconds(30)
        public var requestTimeoutSeconds = 5
        /// How long shutdown waits for the queue to drain (no retries then).
        public var drainTimeout: Duration = .seconds(5)

        public init(url: WebhookURL, format: AlertSettings.WebhookFormat) {
            self.url = url
            self.format = format
        }
    }

    private struct Pending: Sendable {
        var body: [UInt8]
        var attempts = 0
    }

    private struct State: Sendable {
        var queue: [Pending] = []
        var stopping = false
        var finished = false
    }

    public let configuration: Configuration
    public let counters = AlertCounters(sink: "webhook")
    private let logger: Logger
    private let state = Mutex(State())
    /// One signal per queued alert, and one to stop.
    private let work = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let thread = Thread { [self] in deliverLoop() }
        thread.name = "kappa-webhook"
        thread.start()
    }

    public func announce(_ episodes: [AnomalyEpisode]) {
        for episode in episodes {
            let body = Array(WebhookPayload.body(episode, format: configuration.format).utf8)
            let queued = state.withLock { state -> Bool in
                guard !state.stopping, state.queue.count < configuration.queueLimit else { return false }
                state.queue.append(Pending(body: body))
                return true
            }
            if queued {
                work.signal()
            } else {
                counters.recordDropped()
                logger.warning("Webhook alert queue full; alert dropped", metadata: ["kappa.device": "\(episode.device)"])
            }
        }
    }

    /// Alerts queued and not yet delivered or dropped.
    public var backlog: Int { state.withLock { $0.queue.count } }

    public func run() async throws {
        try? await gracefulShutdown()
        await stop()
    }

    /// Delivers what is queued (without retrying) for up to `drainTimeout`, then stops the thread.
    public func stop() async {
        let alreadyStopping = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return state.stopping
        }
        guard !alreadyStopping else { return }
        work.signal()
        let done = self.done
        let timeout = configuration.drainTimeout
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread {
                _ = done.wait(timeout: .now() + .nanoseconds(Int(timeout.nanoseconds)))
                continuation.resume()
            }.start()
        }
    }

    // MARK: The delivery thread

    private func deliverLoop() {
        defer { done.signal() }
        while true {
            work.wait()
            while let (next, stopping) = state.withLock({ state in state.queue.first.map { ($0, state.stopping) } }) {
                if deliver(next) {
                    state.withLock { _ = $0.queue.removeFirst() }
                    counters.recordSent()
                    continue
                }
                counters.recordFailed()
                let attempts = next.attempts + 1
                if stopping || attempts >= configuration.maximumAttempts {
                    state.withLock { _ = $0.queue.removeFirst() }
                    counters.recordDropped()
                    logger.warning("Webhook alert dropped after \(attempts) attempts", metadata: ["kappa.webhook": "\(configuration.url)"])
                    continue
                }
                state.withLock { $0.queue[0].attempts = attempts }
                // Order is kept: nothing behind this alert goes first. Waiting on `work` (not sleeping) lets a
                // stop cut the backoff short; a queued alert's signal is given back afterwards.
                let delay = min(configuration.firstRetryDelay * (1 << min(attempts - 1, 20)), configuration.longestRetryDelay)
                let deadline = DispatchTime.now() + .milliseconds(Int(delay.nanoseconds / 1_000_000))
                var consumed = 0
                while work.wait(timeout: deadline) == .success {
                    consumed += 1
                    if state.withLock({ $0.stopping }) { break }
                }
                for _ in 0..<consumed { work.signal() }
            }
            if state.withLock({ $0.stopping && $0.queue.isEmpty }) { return }
        }
    }

    /// One attempt: true when the receiver answered 2xx.
    private func deliver(_ pending: Pending) -> Bool {
        do {
            let status = try HTTPPost.post(pending.body, to: configuration.url, contentType: "application/json", timeoutSeconds: configuration.requestTimeoutSeconds)
            if (200..<300).contains(status) { return true }
            logger.warning("Webhook receiver refused an alert", metadata: ["kappa.webhook": "\(configuration.url)", "http.status": "\(status)"])
        } catch {
            logger.warning("Webhook alert not delivered", metadata: ["kappa.webhook": "\(configuration.url)", "kappa.error": "\(error)"])
        }
        return false
    }
}
