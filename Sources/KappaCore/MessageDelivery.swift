/// Which MQTT delivery a log record came from: enough for the bridge to recognise the broker delivering the
/// same message again after a reconnect (see ``RedeliveryFilter`` in KappaMQTT and docs/exactly-once.md).
///
/// Stored with the first reading record of each message in each partition, so it is written in the same
/// append as the readings it vouches for: a crash can never leave one without the other.
public struct MessageDelivery: Hashable, Sendable {
    /// The bridge's count of messages it stored, across restarts: orders deliveries of different partitions.
    public var sequence: UInt64
    /// The MQTT packet identifier (1…65 535) the broker gave the message; a redelivery keeps it.
    public var packetID: UInt16
    /// A stable hash of topic and payload (``MessageFingerprint``), so a reused packet identifier carrying
    /// another message is not mistaken for a redelivery.
    public var fingerprint: UInt32
    /// Which gateway session stored it (``DeliverySession``): with several gateways on one log, packet
    /// identifiers and sequences are per session, and only a session's own deliveries say what the broker
    /// resends to it. 0 when unknown (records written before sessions were recorded, record version 2).
    public var session: UInt32

    public init(sequence: UInt64, packetID: UInt16, fingerprint: UInt32, session: UInt32 = DeliverySession.unknown) {
        self.sequence = sequence
        self.packetID = packetID
        self.fingerprint = fingerprint
        self.session = session
    }
}

/// The stored identity of an MQTT session: the first 4 bytes of SHA-256 over the client id, stable across
/// processes and machines (unlike `Hasher`), since it is written into the log and compared after a restart
/// and by other gateways sharing the log. The broker keeps a persistent session per client id, so the same
/// id is the same session.
public enum DeliverySession {
    /// A delivery whose session was not recorded.
    public static let unknown: UInt32 = 0

    /// The identity of the session of `clientID`; never ``unknown``.
    public static func of(clientID: String) -> UInt32 {
        let digest = SHA256.hash(Array("kappa.mqtt-session\u{0}\(clientID)".utf8))
        let identity = digest[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return identity == unknown ? 1 : identity
    }
}

/// FNV-1a over the topic, a separator and the payload, folded to 32 bits: stable across processes (unlike
/// `Hasher`), since fingerprints are stored in the log and compared after a restart.
public enum MessageFingerprint {
    public static func of(topic: String, payload: [UInt8]) -> UInt32 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        for byte in topic.utf8 { mix(byte) }
        mix(0)
        for byte in payload { mix(byte) }
        return UInt32(truncatingIfNeeded: hash) ^ UInt32(truncatingIfNeeded: hash >> 32)
    }
}
