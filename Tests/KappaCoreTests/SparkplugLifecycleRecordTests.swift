import KappaCore
import Testing

@Suite("sparkplug-lifecycle records")
struct SparkplugLifecycleRecordTests {
    @Test("round trip, binary payload and status lists kept; truncation and a bad version refused")
    func roundTrip() throws {
        let entry = SparkplugLifecycleEntry(
            topic: "spBv1.0/plant/NDEATH/edge-1", payload: [0, 0xFF, 0x80, 1, 2], receivedAt: Timestamp(nanosecondsSinceEpoch: 1_764_500_000_123_456_789),
            online: [], offline: ["plant/edge-1", "plant/edge-1/boiler"]
        )
        let bytes = SparkplugLifecycleRecord.encode(entry)
        #expect(try SparkplugLifecycleRecord.decode(bytes) == entry)
        #expect(throws: RecordDecodingError.self) { try SparkplugLifecycleRecord.decode(bytes.dropLast()) }
        #expect(throws: RecordDecodingError.self) { try SparkplugLifecycleRecord.decode([2] + bytes.dropFirst()) }
        #expect(throws: RecordDecodingError.self) { try SparkplugLifecycleRecord.decode(bytes + [0]) }
    }
}
