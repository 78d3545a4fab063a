import KappaCore
import Testing
@testable import KappaLog

@Suite struct FormatTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test func crc32cIsTheSameInPiecesAndWhole() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let whole = CRC32C.checksum(bytes)
        let pieces = bytes.withUnsafeBytes { raw in
            CRC32C.update(CRC32C.update(0, UnsafeRawBufferPointer(rebasing: raw[..<333])), UnsafeRawBufferPointer(rebasing: raw[333...]))
        }
        #expect(whole == pieces)
    }

    @Test func stableHashIsFNV1a() {
        #expect(StableHash.fnv1a64([]) == 0xCBF2_9CE4_8422_2325)
        #expect(StableHash.fnv1a64(Array("a".utf8)) == 0xAF63_DC4C_8601_EC8C)
        #expect(StableHash.fnv1a64(Array("foobar".utf8)) == 0x8594_4171_F739_67E8)
    }

    @Test func batchRoundTrips() throws {
        let records = (0..<20).map { LogAppendRecord(key: "device-\($0 % 3)", eventTime: testTime(20 - $0), value: testValue($0)) }
        var bytes = RecordBatch.encode(records)
        RecordBatch.setBaseOffset(42, in: &bytes)
        let parse = bytes.withUnsafeBytes { RecordBatch.parse($0, at: 0, expectedBaseOffset: 42, maxBatchBytes: 1 << 20) }
        guard case .valid(let header) = parse else {
            Issue.record("batch did not parse: \(parse)")
            return
        }
        #expect(header.recordCount == 20)
        #expect(header.baseOffset == 42)
        #expect(header.minEventTime == testTime(1).nanosecondsSinceEpoch)
        #expect(header.maxEventTime == testTime(20).nanosecondsSinceEpoch)
        var decoded: [(Int64, [UInt8], [UInt8])] = []
        bytes.withUnsafeBytes { raw in
            _ = RecordBatch.forEachRecord(raw, batchAt: 0, header: header) { _, time, key, value in
                decoded.append((time, Array(raw[key]), Array(raw[value])))
            }
        }
        #expect(decoded.map(\.0) == records.map(\.eventTime.nanosecondsSinceEpoch))
        #expect(decoded.map(\.1) == records.map(\.key))
        #expect(decoded.map(\.2) == records.map(\.value))
    }

    @Test func batchParseRejectsWrongBaseOffsetAndFlippedBits() {
        var bytes = RecordBatch.encode([LogAppendRecord(key: "k", eventTime: testTime(1), value: testValue(1))])
        RecordBatch.setBaseOffset(7, in: &bytes)
        let wrongOffset = bytes.withUnsafeBytes { RecordBatch.parse($0, at: 0, expectedBaseOffset: 8, maxBatchBytes: 1 << 20) }
        #expect(wrongOffset != .valid(RecordBatchHeader(length: 0, baseOffset: 0, recordCount: 0, minEventTime: 0, maxEventTime: 0)))
        if case .valid = wrongOffset { Issue.record("a wrong base offset was accepted") }
        bytes[bytes.count - 1] ^= 0x01
        let flipped = bytes.withUnsafeBytes { RecordBatch.parse($0, at: 0, expectedBaseOffset: 7, maxBatchBytes: 1 << 20) }
        #expect(flipped == .corrupt(reason: "checksum mismatch"))
        let short = bytes.withUnsafeBytes { RecordBatch.parse(UnsafeRawBufferPointer(rebasing: $0[..<(bytes.count - 1)]), at: 0, expectedBaseOffset: 7, maxBatchBytes: 1 << 20) }
        #expect(short == .incomplete(needed: bytes.count))
    }

    @Test func indexSurvivesSerialization() throws {
        var index = SegmentIndex(baseOffset: 100)
        var position: Int64 = 0
        for batch in 0..<50 {
            let header = RecordBatchHeader(length: 300, baseOffset: 100 + Int64(batch * 10), recordCount: 10, minEventTime: Int64(batch), maxEventTime: Int64(batch * 2))
            index.batchAppended(header, at: position, intervalBytes: 1000)
            position += 300
        }
        let restored = try #require(SegmentIndex.deserialize(index.serialized(), baseOffset: 100))
        #expect(restored == index)
        #expect(SegmentIndex.deserialize(index.serialized(), baseOffset: 101) == nil)
        var damaged = index.serialized()
        damaged[20] ^= 0xFF
        #expect(SegmentIndex.deserialize(damaged, baseOffset: 100) == nil)
        #expect(index.position(forOffset: 100) == 0)
        #expect(index.position(forOffset: 100 + 45 * 10 + 3) <= 45 * 300)
        #expect(index.position(forOffset: 100 + 45 * 10 + 3) > 40 * 300)
    }
}
