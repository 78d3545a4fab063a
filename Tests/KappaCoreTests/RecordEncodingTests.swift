import KappaCore
import Testing

@Suite struct RecordEncodingTests {
    static let readings = [
        Reading(device: "d1", metric: "temperature", time: Timestamp(millisecondsSinceEpoch: sampleTS), value: 21.5),
        Reading(device: "pièce-1", metric: "température", time: Timestamp(nanosecondsSinceEpoch: .min), value: -.zero, timeSource: .received,
                tags: [Tag(key: "site", value: "berlin"), Tag(key: "zone", value: String(repeating: "z", count: 300))]),
        Reading(device: "", metric: "", time: Timestamp(nanosecondsSinceEpoch: .max), value: .greatestFiniteMagnitude),
        Reading(device: "d", metric: "m", time: Timestamp(nanosecondsSinceEpoch: -1), value: .nan),
    ]

    @Test func readingsRoundTripBitForBit() throws {
        for reading in Self.readings {
            let bytes = ReadingRecord.encode(reading)
            #expect(bytes.first == ReadingRecord.version)
            let decoded = try ReadingRecord.decode(bytes)
            #expect(decoded.device == reading.device && decoded.metric == reading.metric && decoded.tags == reading.tags)
            #expect(decoded.time == reading.time && decoded.timeSource == reading.timeSource)
            #expect(decoded.value.bitPattern == reading.value.bitPattern)
        }
    }

    @Test func layoutIsLittleEndianWithVarintLengths() {
        let bytes = ReadingRecord.encode(Reading(device: "d", metric: "m", time: Timestamp(nanosecondsSinceEpoch: 0x0102), value: 0, timeSource: .received))
        #expect(bytes == [1, 1, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x64, 1, 0x6D, 0])
    }

    @Test func deadLettersRoundTrip() throws {
        let letter = DeadLetter(topic: "devices/d1/telemetry", payload: [0xFF, 0x00, 0x7B], receivedAt: receivedAt, reason: .invalidUTF8, message: "invalid UTF-8 at byte 0")
        let bytes = DeadLetterRecord.encode(letter)
        #expect(try DeadLetterRecord.decode(bytes) == letter)
        let unknown = DeadLetter(topic: "", payload: [], receivedAt: Timestamp(nanosecondsSinceEpoch: 0), reason: DeadLetterReason(rawValue: "from_the_future"), message: "")
        #expect(try DeadLetterRecord.decode(DeadLetterRecord.encode(unknown)) == unknown)
    }

    @Test func everyTruncationIsAnError() {
        for reading in Self.readings {
            let bytes = ReadingRecord.encode(reading)
            for length in 0..<bytes.count {
                #expect(throws: RecordDecodingError.self) { try ReadingRecord.decode(Array(bytes[..<length])) }
            }
        }
        let letter = DeadLetterRecord.encode(DeadLetter(topic: "t", payload: [1, 2, 3], receivedAt: receivedAt, reason: .emptyPayload, message: "m"))
        for length in 0..<letter.count {
            #expect(throws: RecordDecodingError.self) { try DeadLetterRecord.decode(Array(letter[..<length])) }
        }
    }

    @Test func garbageIsRejectedWithItsCode() {
        func code(_ bytes: [UInt8]) -> RecordDecodingError.Code? {
            do { _ = try ReadingRecord.decode(bytes); return nil } catch { return error.code }
        }
        let valid = ReadingRecord.encode(Self.readings[0])
        #expect(code([4] + valid.dropFirst()) == .unsupportedVersion)  // 3 carries the delivery's session
        #expect(code([1, 7] + valid.dropFirst(2)) == .invalidValue)
        #expect(code(valid + [0]) == .trailingBytes)
        #expect(code(Array(valid[..<18]) + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) == .invalidVarint)
        #expect(code(Array(valid[..<18]) + [0x02, 0xC3, 0x28, 0]) == .invalidUTF8)
        #expect(code(Array(valid[..<18]) + [0x7F]) == .truncated)
    }

    @Test func randomGarbageNeverTraps() {
        var generator = SplitMix64(seed: 7)
        let seed = ReadingRecord.encode(Self.readings[1])
        for _ in 0..<5_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: bytes.indices, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            bytes.removeLast(Int.random(in: 0...3, using: &generator))
            _ = try? ReadingRecord.decode(bytes)
            _ = try? DeadLetterRecord.decode(bytes)
        }
    }

    /// What the anomaly processor reads of each record to know which devices a batch touches: the same time and
    /// device as the whole decode, in every version, and nothing from a record cut before the device ends.
    @Test func theStartOfARecordGivesItsTimeAndDevice() {
        let delivery = MessageDelivery(sequence: 1, packetID: 2, fingerprint: 3)
        let session = MessageDelivery(sequence: 1, packetID: 2, fingerprint: 3, session: 9)
        for reading in Self.readings {
            for bytes in [ReadingRecord.encode(reading), ReadingRecord.encode(reading, delivery: delivery), ReadingRecord.encode(reading, delivery: session)] {
                let start = bytes.withUnsafeBytes { ReadingRecord.eventTimeAndDevice($0) }
                #expect(start?.time == reading.time && start?.device == reading.device)
            }
        }
        let bytes = ReadingRecord.encode(Self.readings[1])
        for length in 0..<(19 + Self.readings[1].device.utf8.count) {
            #expect(Array(bytes[..<length]).withUnsafeBytes { ReadingRecord.eventTimeAndDevice($0) } == nil, "cut at \(length)")
        }
        var unknownVersion = bytes
        unknownVersion[0] = 99
        #expect(unknownVersion.withUnsafeBytes { ReadingRecord.eventTimeAndDevice($0) } == nil)
    }
}
