import KappaCore
import Testing

@Suite("Reading records with the delivery they came in (versions 2 and 3)")
struct DeliveryRecordTests {
    let reading = Reading(device: "d1", metric: "v", time: Timestamp(millisecondsSinceEpoch: 1_796_000_000_000), value: 21.5,
                          tags: [Tag(key: "site", value: "a")])

    @Test func deliveryRoundTripsBesideTheReading() throws {
        let delivery = MessageDelivery(sequence: 123_456_789_012, packetID: 65_535, fingerprint: 0xDEAD_BEEF)
        let bytes = ReadingRecord.encode(reading, delivery: delivery)
        #expect(bytes.first == ReadingRecord.versionWithDelivery)
        let decoded = try bytes.withUnsafeBytes { try ReadingRecord.decodeWithDelivery($0) }
        #expect(decoded.reading == reading)
        #expect(decoded.delivery == delivery)
        #expect(try ReadingRecord.decode(bytes) == reading)
    }

    @Test func versionOneRecordsStillDecodeWithoutDelivery() throws {
        let bytes = ReadingRecord.encode(reading)
        #expect(bytes.first == ReadingRecord.version)
        let decoded = try bytes.withUnsafeBytes { try ReadingRecord.decodeWithDelivery($0) }
        #expect(decoded.reading == reading && decoded.delivery == nil)
    }

    @Test func truncatedDeliveryIsAnError() {
        let bytes = ReadingRecord.encode(reading, delivery: MessageDelivery(sequence: 1, packetID: 2, fingerprint: 3))
        for length in (bytes.count - 5)..<bytes.count {
            #expect(throws: RecordDecodingError.self) { try ReadingRecord.decode(Array(bytes[..<length])) }
        }
    }

    @Test func packetIdentifierAboveSixteenBitsIsRefused() {
        var bytes = ReadingRecord.encode(reading)
        bytes[0] = ReadingRecord.versionWithDelivery
        bytes += [1, 0x80, 0x80, 0x04, 0, 0, 0, 0]  // sequence 1, packet id 65 536
        #expect(throws: RecordDecodingError.self) { try ReadingRecord.decode(bytes) }
    }

    @Test func fingerprintIsStableAndSeparatesTopicFromPayload() {
        // Fixed values: fingerprints are stored in the log and compared by later processes.
        #expect(MessageFingerprint.of(topic: "devices/d1/v", payload: Array("21.5".utf8)) == 0xD65C_C795)
        #expect(MessageFingerprint.of(topic: "a", payload: Array("bc".utf8)) != MessageFingerprint.of(topic: "ab", payload: Array("c".utf8)))
        #expect(MessageFingerprint.of(topic: "", payload: []) == 0x2962_0A93)
    }

    /// The bytes a reading of device "d", metric "m" at 0x0102 ns, value 0, received, encodes to before its delivery.
    static let layoutPrefix: [UInt8] = [1, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x64, 1, 0x6D, 0]
    static let layoutReading = Reading(device: "d", metric: "m", time: Timestamp(nanosecondsSinceEpoch: 0x0102), value: 0, timeSource: .received)

    @Test func aDeliveryOfUnknownSessionIsWrittenInVersionTwoAsBefore() throws {
        // Fixed bytes: logs written before sessions were recorded must keep decoding, and stay what they were.
        let delivery = MessageDelivery(sequence: 300, packetID: 2, fingerprint: 0x0102_0304)
        let bytes = ReadingRecord.encode(Self.layoutReading, delivery: delivery)
        #expect(bytes == [2] + Self.layoutPrefix + [0xAC, 0x02, 2, 0x04, 0x03, 0x02, 0x01])
        let decoded = try bytes.withUnsafeBytes { try ReadingRecord.decodeWithDelivery($0) }
        #expect(decoded.delivery == delivery && decoded.delivery?.session == DeliverySession.unknown)
    }

    @Test func aDeliveryWithItsSessionIsWrittenInVersionThree() throws {
        let delivery = MessageDelivery(sequence: 300, packetID: 2, fingerprint: 0x0102_0304, session: 0x8E00_01DF)
        let bytes = ReadingRecord.encode(Self.layoutReading, delivery: delivery)
        #expect(bytes == [3] + Self.layoutPrefix + [0xAC, 0x02, 2, 0x04, 0x03, 0x02, 0x01, 0xDF, 0x01, 0x00, 0x8E])
        let decoded = try bytes.withUnsafeBytes { try ReadingRecord.decodeWithDelivery($0) }
        #expect(decoded.delivery == delivery)
        #expect(try ReadingRecord.decode(bytes) == Self.layoutReading)
        for length in (bytes.count - 4)..<bytes.count {
            #expect(throws: RecordDecodingError.self) { try ReadingRecord.decode(Array(bytes[..<length])) }
        }
        var unknownSession = bytes
        unknownSession.replaceSubrange((bytes.count - 4)..., with: [0, 0, 0, 0])
        #expect(throws: RecordDecodingError.self, "version 3 with session 0 is not written") { try ReadingRecord.decode(unknownSession) }
    }

    @Test func sessionIdentityIsStableAndDependsOnTheClientID() {
        // Fixed values: sessions are stored in the log and compared by later processes and other gateways.
        #expect(DeliverySession.of(clientID: "kappa-gateway") == 0x8E00_01DF)
        #expect(DeliverySession.of(clientID: "gw-a") == 0xAF25_B1FB)
        #expect(DeliverySession.of(clientID: "") != DeliverySession.unknown)
    }
}
