import KappaCore
import KappaSparkplug

/// One simulated Sparkplug edge node at publish time: turns its devices' ticks into the messages the
/// specification asks for, in order on its one connection.
///
/// - The NBIRTH goes out before the node's first message of a session (`bdSeq` = the session number, which
///   the connection's will, the NDEATH, carries too).
/// - A device's first tick of a session is its DBIRTH (declaring the aliases, with the tick's values, which the
///   gateway stores as readings); later ticks are DDATA naming the metrics by alias.
/// - A rebirth (the host's NCMD `Node Control/Rebirth`, or a new connection) republishes the NBIRTH and every
///   known device's DBIRTH with its last values before the next message.
/// - Messages that are not ticks (malformed, oversized) go out as they are and take no `seq`.
public struct SimulatedEdgeNode: Sendable {
    public let edgeNode: SparkplugEdgeNode
    private var publisher: SparkplugEdgeNodePublisher
    private var born = false
    /// Devices in the order of their first birth, with their last tick (the values a rebirth repeats).
    private var devices: [String] = []
    private var lastTick: [String: SparkplugContent] = [:]
    private var deviceBorn: Set<String> = []

    public init(edgeNode: SparkplugEdgeNode, birthSequence: UInt64 = 0) {
        self.edgeNode = edgeNode
        publisher = SparkplugEdgeNodePublisher(edgeNode: edgeNode, birthSequence: birthSequence)
    }

    /// The session's `bdSeq`.
    public var birthSequence: UInt64 { publisher.birthSequence }

    /// The NDEATH of the current session: the connection's will, and what the node publishes before it
    /// disconnects on purpose.
    public func death() throws -> SparkplugEdgeNodePublisher.Message {
        try publisher.nodeDeath()
    }

    /// A new session (after a reconnect): the next `bdSeq`, and births before anything else.
    public mutating func startNewSession() {
        publisher = SparkplugEdgeNodePublisher(edgeNode: edgeNode, birthSequence: (publisher.birthSequence + 1) % 256)
        born = false
    }

    /// Births again before the next message, as a host's rebirth request asks.
    public mutating func requestRebirth() {
        born = false
    }

    /// The messages to publish for `message`, births first where due. A tick's readings go with the DBIRTH or
    /// DDATA that carries its values.
    public mutating func encode(_ message: SimulatedMessage) throws -> [SimulatedMessage] {
        guard let content = message.sparkplug, content.isTick else { return [message] }
        var out: [SimulatedMessage] = []
        func wrap(_ encoded: SparkplugEdgeNodePublisher.Message, readings: [Reading]) -> SimulatedMessage {
            var copy = message
            copy.topic = encoded.topic
            copy.payload = encoded.payload
            copy.readings = readings
            copy.labels = []
            return copy
        }
        if !born {
            out.append(wrap(try publisher.nodeBirth([], at: content.time), readings: []))
            born = true
            deviceBorn.removeAll(keepingCapacity: true)
            // Every device known so far is born again with its last values (readings the gateway has: it keeps
            // them once).
            for device in devices where device != content.device {
                let last = lastTick[device]!
                out.append(wrap(try publisher.deviceBirth(device, Array(zip(last.metrics, last.values)), at: last.time), readings: []))
                deviceBorn.insert(device)
            }
        }
        if lastTick[content.device] == nil { devices.append(content.device) }
        lastTick[content.device] = content
        if deviceBorn.insert(content.device).inserted {
            out.append(wrap(try publisher.deviceBirth(content.device, Array(zip(content.metrics, content.values)), at: content.time), readings: message.readings))
        } else {
            let readings = zip(content.metrics, content.values).map { (metric: $0, value: $1, time: content.time) }
            out.append(wrap(try publisher.data(content.device, readings, at: content.time), readings: message.readings))
        }
        out[out.count - 1].labels = message.labels
        return out
    }
}
