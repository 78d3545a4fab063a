import KappaCore
import Testing

/// Hostile and broken input: the decoder must return, with readings or problems, and never trap.
@Suite struct RobustnessTests {
    static let validPayloads: [(String, PayloadFormat)] = [
        (#"{"ts": "2024-11-24T00:13:20.5+02:00", "temp\u00e9rature": 21.5, "values": {"h": 4.01e1, "ok": true}, "env": {"co2": 400}, "s": "1"}"#, .json),
        (#"[{"ts": 1732400000000, "t": 1}, {"ts": 1732400000.5, "values": {"t": -2E-3}}]"#, .json),
        ("weather,device=ws1,room=k\\ 1 temperature=21.5,humidity=40i,s=\"x\\\"y\",on=t 1732400000000000000\nm v=1", .lineProtocol),
        ("-21.5e-1", .number),
    ]

    @Test func everyTruncationReturns() {
        for (payload, format) in Self.validPayloads {
            let bytes = Array(payload.utf8)
            for length in 0...bytes.count {
                let result = decode(Array(bytes[..<length]), format: format, metric: "m")
                #expect(!result.readings.isEmpty || !result.problems.isEmpty, "prefix \(length) of \(payload)")
            }
        }
    }

    @Test func everySingleByteCorruptionReturns() {
        for (payload, format) in Self.validPayloads {
            let bytes = Array(payload.utf8)
            for position in bytes.indices {
                for replacement: UInt8 in [0x00, 0x22, 0x5C, 0x7B, 0x5B, 0x80, 0xFF, 0x2C] {
                    var corrupted = bytes
                    corrupted[position] = replacement
                    let result = decode(corrupted, format: format, metric: "m")
                    #expect(!result.readings.isEmpty || !result.problems.isEmpty)
                }
            }
        }
    }

    @Test func randomBytesFuzz() {
        var generator = SplitMix64(seed: 0x4B41_5050_41)
        // Biased towards JSON's own characters so that inputs get past the first byte.
        let alphabet = Array(#"{}[]":,.-+eE0123456789 tsvaluesrfn\u"#.utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xA9, 0xFF]
        var decodedSomething = 0
        for round in 0..<4_000 {
            let length = Int.random(in: 0...64, using: &generator)
            let bytes: [UInt8] = (0..<length).map { _ in
                round % 4 == 0 ? UInt8.random(in: 0...255, using: &generator) : alphabet.randomElement(using: &generator)!
            }
            for format in PayloadFormat.allCases {
                let result = decode(bytes, format: format, metric: "m")
                #expect(!result.readings.isEmpty || !result.problems.isEmpty)
                decodedSomething += result.readings.isEmpty ? 0 : 1
            }
        }
        #expect(decodedSomething > 0, "the fuzz inputs should sometimes be valid")
    }

    @Test func deepNestingIsBoundedNotRecursedIntoTheStack() {
        for opener in ["[", "{\"a\":"] {
            let payload = String(repeating: opener, count: 100_000)
            #expect(decode(payload, limits: DecodingLimits(maxPayloadBytes: 1 << 20)).reasons == [.nestingTooDeep])
        }
        let batch = "[" + String(repeating: "[", count: 100_000)
        #expect(decode(batch).reasons == [.nestingTooDeep])
    }

    @Test func manyFieldsStayLinear() {
        var payload = "{"
        for index in 0..<20_000 { payload += "\"f\(index)\":\(index)," }
        payload += "\"f0\":1}"
        let result = decode(payload, limits: DecodingLimits(maxPayloadBytes: 1 << 20))
        #expect(result.readings.count == 20_000)
        #expect(result.reasons == [.duplicateKey])
    }
}
