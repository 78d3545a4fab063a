import KappaCore
import KappaLog

/// Recognises a message that the broker delivers again after a reconnect although the log already holds it,
/// so that it is acknowledged without being stored twice (docs/exactly-once.md).
///
/// **Why the bridge must do this.** The bridge stores a burst, then acknowledges it. A crash or a cut
/// connection between the two leaves stored messages unacknowledged, and the broker sends them again on the
/// next connection. mosquitto 2.0 was seen to resend tens of thousands of them after a `kill -9` under load,
/// far more than its in-flight limit suggests. A reading stamped with the receive time would differ from its
/// first copy, so only the delivery itself can tell a redelivery apart.
///
/// **The rule.** A broker resends a message with its original packet identifier, and never gives an
/// identifier in flight to another message. Brokers hand identifiers out in sequence (mosquitto increments
/// them per session), so when a connection starts, the identifiers of messages resent in it lie *behind* the
/// last identifier stored before (the anchor), and those of new messages *ahead* of it. A message is a
/// redelivery when its identifier lies within ``window`` behind the anchor and the log holds a delivery with
/// that identifier and the same fingerprint of topic and payload, in the partition its readings go to. As
/// new messages take identifiers ever further ahead, they would wrap round into the window: matching ends
/// for the connection once one is ``matchingHorizon`` ahead. Resent messages come first in a connection, so
/// none is lost to that.
///
/// **Partitions.** A message's readings can go to several partitions, written one after the other: a crash
/// between them stores part of a message. Deliveries are kept per partition, and a redelivery stores the
/// readings of the partitions that lack it.
///
/// **Sessions.** Gateways sharing a log (docs/several-gateways.md) each have their own broker session, whose
/// packet identifiers and resends concern that gateway only, and their own sequence. So the filter keeps,
/// anchors on and counts only the deliveries of its own ``session``: another gateway's delivery neither
/// moves the anchor nor can be mistaken for a resend. Deliveries of unknown session (written before sessions
/// were recorded) count as its own unless the log's tail holds deliveries of another session: a log with one
/// writer behaves as before, and in a shared log nobody can tell whose they were.
///
/// A value type without I/O but ``rebuild(from:session:)``, which reads the log's tail at start.
struct RedeliveryFilter {
    /// How far behind the anchor a resent identifier may lie: the most messages a broker can have in flight
    /// (65 535 identifiers) less the horizon, so that identifiers ahead and behind never overlap.
    static let window = 60_000
    /// How far ahead of the anchor new identifiers may run before matching stops for the connection.
    static let matchingHorizon = 5_000
    /// How many deliveries of other sessions ``rebuild(from:session:)`` passes over per partition, looking for
    /// its own: it bounds the start of a gateway that was away while others kept appending to a shared log.
    static let otherSessionsScanLimit = 1 << 20
    private static let identifiers = 65_535

    /// The session whose deliveries this filter matches (``DeliverySession``); ``DeliverySession/unknown``
    /// for a bridge whose session is not recorded.
    let session: UInt32
    /// Whether deliveries of unknown session count as this session's.
    let unknownSessionIsOwn: Bool

    init(session: UInt32 = DeliverySession.unknown, unknownSessionIsOwn: Bool = true) {
        self.session = session
        self.unknownSessionIsOwn = unknownSessionIsOwn
    }

    private struct Slot {
        var sequence: UInt64 = 0
        var fingerprint: UInt32 = 0
    }

    /// Per partition, the newest delivery stored per packet identifier (index 0 unused); allocated on first use.
    private var slots: [Int: [Slot]] = [:]
    /// The newest delivery of its session stored, in any partition.
    private(set) var newest: MessageDelivery?
    /// The packet identifier that resent identifiers lie behind in the current connection; nil when the
    /// connection resends nothing (a new session) or matching has ended.
    private var anchor: UInt16?

    /// The sequence number the next message this session stores takes.
    var nextSequence: UInt64 { (newest?.sequence ?? 0) + 1 }

    /// A new connection: with a stored session the broker resends what it has in flight.
    mutating func connectionStarted(sessionPresent: Bool) {
        anchor = sessionPresent ? newest?.packetID : nil
    }

    /// Whether a message with `packetID` may be one the log holds; false for QoS 0 (identifier 0).
    mutating func mayBeRedelivery(packetID: UInt16) -> Bool {
        guard let anchor, packetID != 0 else { return false }
        let behind = (Int(anchor) - Int(packetID) + Self.identifiers) % Self.identifiers
        if behind < Self.window { return true }
        if Self.identifiers - behind > Self.matchingHorizon { self.anchor = nil }
        return false
    }

    /// Whether `partition` holds this delivery among the newest ``window`` stored.
    func holds(packetID: UInt16, fingerprint: UInt32, partition: Int) -> Bool {
        guard let newest, let slot = slots[partition]?[Int(packetID)], slot.sequence != 0 else { return false }
        return slot.fingerprint == fingerprint && newest.sequence - slot.sequence < UInt64(Self.window)
    }

    /// Whether `delivery` was stored by this filter's session.
    func isOwn(_ delivery: MessageDelivery) -> Bool {
        delivery.session == session || (delivery.session == DeliverySession.unknown && unknownSessionIsOwn)
    }

    /// Notes a delivery the log now holds in `partition`; another session's is ignored.
    mutating func stored(_ delivery: MessageDelivery, partition: Int) {
        guard delivery.packetID != 0, isOwn(delivery) else { return }
        slots[partition, default: Array(repeating: Slot(), count: Self.identifiers + 1)][Int(delivery.packetID)] =
            Slot(sequence: delivery.sequence, fingerprint: delivery.fingerprint)
        if delivery.sequence > newest?.sequence ?? 0 { newest = delivery }
    }
}

extension RedeliveryFilter {
    /// The filter of `session` as the log's tail describes it: that session's deliveries among its newest
    /// ``window`` in each partition. Blocks on file reads: call it off the cooperative pool.
    ///
    /// Each partition is read backwards until it reaches the session's deliveries older than the window, its
    /// start, or ``otherSessionsScanLimit`` deliveries of other sessions (so other gateways' records
    /// interleaved with its own are passed over, within that bound).
    static func rebuild(from stream: any LogStream, session: UInt32 = DeliverySession.unknown) throws(LogError) -> RedeliveryFilter {
        var tails = (0..<stream.partitionCount).map { PartitionTail(partition: $0, stream: stream, session: session) }
        // First the newest delivery of every partition, which fixes where the window starts. A partition
        // whose tail holds none (records imported, not bridged) is not read to its start for one; one whose
        // tail holds other sessions' deliveries is read on, within the bound, for this session's.
        for index in tails.indices {
            var chunks = 0
            while tails[index].newestSequence == nil, chunks < 4 || tails[index].otherSessionDeliveries > 0,
                  try tails[index].readEarlierChunk() { chunks += 1 }
        }
        guard let newestSequence = tails.compactMap(\.newestSequence).max() else {
            return RedeliveryFilter(session: session, unknownSessionIsOwn: tails.allSatisfy { $0.otherSessionDeliveries == 0 })
        }
        let cutoff = newestSequence > UInt64(window) ? newestSequence - UInt64(window) : 0
        for index in tails.indices {
            while tails[index].oldestSequence.map({ $0 > cutoff }) ?? false, try tails[index].readEarlierChunk() {}
        }
        var filter = RedeliveryFilter(session: session, unknownSessionIsOwn: tails.allSatisfy { $0.otherSessionDeliveries == 0 })
        let found = tails.flatMap { tail in tail.deliveries.filter(filter.isOwn).map { (partition: tail.partition, delivery: $0) } }
        guard let ownNewest = found.map(\.delivery.sequence).max() else { return filter }
        let ownCutoff = ownNewest > UInt64(window) ? ownNewest - UInt64(window) : 0
        for (partition, delivery) in found.sorted(by: { $0.delivery.sequence < $1.delivery.sequence }) where delivery.sequence > ownCutoff {
            filter.stored(delivery, partition: partition)
        }
        return filter
    }

    /// Reads one partition backwards, a chunk at a time, collecting the deliveries of its session (and of
    /// unknown session) that its records carry, and counting other sessions'.
    private struct PartitionTail {
        static let chunk: Int64 = 65_536
        let partition: Int
        let stream: any LogStream
        let session: UInt32
        let start: Int64
        /// Where the part already read begins.
        var readFrom: Int64
        var deliveries: [MessageDelivery] = []
        var newestSequence: UInt64?
        var oldestSequence: UInt64?
        var otherSessionDeliveries = 0

        init(partition: Int, stream: any LogStream, session: UInt32) {
            self.partition = partition
            self.stream = stream
            self.session = session
            // A JetStream stream knows its end as of its opening or its own appends; other gateways, or the
            // last append of this gateway's killed predecessor, may have added since. Asking whether records
            // lie beyond that end looks again (a disk log answers at once).
            _ = stream.waitForRecords(partition: partition, from: stream.offsets(partition: partition).highWatermark, timeout: .zero)
            let offsets = stream.offsets(partition: partition)
            start = offsets.start
            readFrom = offsets.highWatermark
        }

        /// Reads the chunk before what was read; false when the partition's start was reached before, or
        /// ``RedeliveryFilter/otherSessionsScanLimit`` deliveries of other sessions were passed over.
        mutating func readEarlierChunk() throws(LogError) -> Bool {
            guard readFrom > start, otherSessionDeliveries < RedeliveryFilter.otherSessionsScanLimit else { return false }
            let end = readFrom
            var offset = max(start, end - Self.chunk)
            readFrom = offset
            while offset < end {
                let result = try stream.read(
                    partition: partition, from: offset,
                    limits: LogReadLimits(maxRecords: Int(min(end - offset, 10_000)), maxBytes: 4 << 20)
                )
                guard !result.records.isEmpty else { break }
                for record in result.records where record.offset < end {
                    let decoded = record.value.withUnsafeBytes { bytes in
                        Result { () throws(RecordDecodingError) in try ReadingRecord.decodeWithDelivery(bytes).delivery }
                    }
                    guard case .success(let delivery?) = decoded else { continue }
                    guard delivery.session == session || delivery.session == DeliverySession.unknown else {
                        otherSessionDeliveries += 1
                        continue
                    }
                    deliveries.append(delivery)
                    newestSequence = max(newestSequence ?? 0, delivery.sequence)
                    oldestSequence = min(oldestSequence ?? .max, delivery.sequence)
                }
                offset = result.nextOffset
            }
            return true
        }
    }
}
