import KappaMQTT
import Synchronization

/// Gathers messages from an MQTT client's handler (any thread) for a test to wait on and inspect.
public final class MessageCollector: Sendable {
    private let messages = Mutex<[MQTTMessage]>([])

    public init() {}

    /// The handler to give `MQTTClient.make`.
    public var handler: MQTTClient.MessageHandler {
        { message in self.messages.withLock { $0.append(message) } }
    }

    public var received: [MQTTMessage] { messages.withLock { $0 } }

    public var count: Int { messages.withLock { $0.count } }

    /// Waits until at least `count` messages arrived or `timeout` passed; returns what arrived.
    @discardableResult
    public func waitFor(count: Int, timeout: Duration = .seconds(10)) async -> [MQTTMessage] {
        let deadline = ContinuousClock.now + timeout
        while self.count < count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return received
    }
}
