import KappaCore
import Testing

@Suite("Reading records with the delivery they came in (version 2)")
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
}
