import KappaCore
import Testing

/// One dead letter per message, its payload capped, so any message fits one log batch.
@Suite struct DeadLetterBoundsTests {
    @Test func manyProblemsMakeOneLetterListingTheFirstFew() {
        let problems = (0..<16_000).map { DecodeProblem(reason: .unsupportedFormat, message: "batch element \($0) is not an object") }
        let letter = DeadLetter(topic: "t", payload: [1, 2], receivedAt: receivedAt, problems: problems)
        #expect(letter.reason == .unsupportedFormat)
        #expect(letter.message.hasPrefix("16000 problems (the first 5 listed): unsupported_format: batch element 0 is not an object; "))
        #expect(letter.message.hasSuffix("batch element 4 is not an object"))
    }

    @Test func oneProblemIsItsOwnMessage() {
        let letter = DeadLetter(topic: "t", payload: [1], receivedAt: receivedAt, problems: [DecodeProblem(reason: .noReadings, message: "m")])
        #expect(letter.message == "m" && !letter.isTruncated && letter.payloadSHA256.isEmpty)
    }

    @Test func longProblemMessagesAreCut() {
        let long = DecodeProblem(reason: .invalidMetric, message: String(repeating: "é", count: 1_000))
        let letter = DeadLetter(topic: "t", payload: [1], receivedAt: receivedAt, problems: [long])
        #expect(letter.message.utf8.count <= DeadLetter.problemMessageBytes + 3)
        #expect(letter.message.hasSuffix("é…"))
    }

    @Test func controlCharactersInProblemMessagesAreEscaped() {
        // A NUL key seen twice: the duplicate_key message quotes the key.
        let result = decode(#"{"a\u0000": 1, "a\u0000": 2}"#)
        #expect(Set(result.reasons) == [.invalidMetric, .duplicateKey])
        let letter = DeadLetter(topic: "t", payload: [1], receivedAt: receivedAt, problems: result.problems)
        #expect(!letter.message.utf8.contains(0))
        #expect(letter.message.contains("key 'a\\u{0}' appears again"))
    }

    @Test func aLargePayloadKeepsAPrefixItsSizeAndDigest() throws {
        let payload = (0..<1_000).map { UInt8(truncatingIfNeeded: $0) }
        let letter = DeadLetter(topic: "t", payload: payload, receivedAt: receivedAt, problems: [DecodeProblem(reason: .oversizedPayload, message: "m")], cap: 100)
        #expect(letter.payload == Array(payload[0..<100]))
        #expect(letter.payloadSize == 1_000 && letter.isTruncated)
        #expect(letter.payloadSHA256 == SHA256.hash(payload))
        let decoded = try DeadLetterRecord.decode(DeadLetterRecord.encode(letter))
        #expect(decoded == letter)
    }

    @Test func aTenMegabytePayloadMakesALetterUnderTheCap() {
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 10 << 20)
        let letter = DeadLetter(topic: "t", payload: payload, receivedAt: receivedAt, problems: [DecodeProblem(reason: .oversizedPayload, message: "m")])
        let encoded = DeadLetterRecord.encode(letter)
        #expect(encoded.count < DeadLetter.payloadCap + 1_024)
        #expect(letter.payloadSize == 10 << 20)
    }

    @Test func versionOneRecordsStillDecode() throws {
        // u8 version, i64 time, reason, topic, message, payload: the first release's layout.
        var bytes: [UInt8] = [1] + [UInt8](repeating: 0, count: 8)
        for field in ["no_readings", "t", "m"] { bytes.append(UInt8(field.utf8.count)); bytes += Array(field.utf8) }
        bytes += [3, 7, 8, 9]
        let letter = try DeadLetterRecord.decode(bytes)
        #expect(letter.payload == [7, 8, 9] && letter.payloadSize == 3 && !letter.isTruncated && letter.reason == .noReadings)
    }

    @Test func aSizeSmallerThanThePrefixIsRejected() {
        var letter = DeadLetter(topic: "t", payload: [1, 2, 3], receivedAt: receivedAt, reason: .noReadings, message: "m")
        letter.payloadSize = 2
        #expect(throws: RecordDecodingError.self) { try DeadLetterRecord.decode(DeadLetterRecord.encode(letter)) }
    }
}

/// FIPS 180-4 / NIST example vectors.
@Suite struct SHA256Tests {
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func knownVectors(_ input: String, _ digest: String) {
        #expect(Self.hex(SHA256.hash(Array(input.utf8))) == digest)
    }

    @Test func oneMillionAs() {
        #expect(Self.hex(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func piecewiseUpdatesEqualOneHash() {
        let bytes = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for split in [0, 1, 55, 56, 63, 64, 65, 500, 1_000] {
            var hasher = SHA256()
            bytes[0..<split].withUnsafeBytes { hasher.update($0) }
            bytes[split...].withUnsafeBytes { hasher.update($0) }
            #expect(hasher.finalize() == SHA256.hash(bytes))
        }
    }
}
