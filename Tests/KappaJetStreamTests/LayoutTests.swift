import KappaCore
@testable import KappaJetStream
import Testing

@Suite("JetStream layout and record format (no server)")
struct JetStreamLayoutTests {
    let layout = JetStreamLayout(streamPrefix: "KAPPA", subjectPrefix: "kappa")

    @Test func partitionsMapToOneStreamAndSubjectEach() {
        #expect(layout.streamName("readings", partition: 3) == "KAPPA_readings_3")
        #expect(layout.subject("readings", partition: 3) == "kappa.readings.3")
        #expect(layout.kappaStream(ofPartitionZero: "KAPPA_dead-letters_0") == "dead-letters")
        #expect(layout.kappaStream(ofPartitionZero: "KAPPA_readings_1") == nil)
        #expect(layout.kappaStream(ofPartitionZero: "KAPPA_readings_consumers") == nil)
        #expect(layout.kappaStream(ofPartitionZero: "OTHER_readings_0") == nil)
    }

    @Test func thePartitionCountIsReadBackFromTheDescription() {
        #expect(layout.partitionCount(fromDescription: layout.description("readings", partition: 2, of: 16)) == 16)
        #expect(layout.partitionCount(fromDescription: "someone else's stream") == nil)
        #expect(layout.partitionCount(fromDescription: "") == nil)
    }

    @Test func groupNamesBecomeSafeDistinctSubjectTokens() {
        let dotted = layout.consumerSubject("readings", group: "a.b")
        let spaced = layout.consumerSubject("readings", group: "a b")
        #expect(dotted != spaced)
        #expect(dotted == "kappa.readings.consumers.612e62")
        let token = String(dotted.dropFirst("kappa.readings.consumers.".count))
        let forbidden: Set<Character> = [".", " ", "*", ">"]
        #expect(token.allSatisfy { !forbidden.contains($0) })
    }

    @Test func namesThatCannotBeStreamNamesAreRefused() {
        #expect(throws: Never.self) { try JetStreamLayout.validate(streamName: "dead-letters_v2") }
        for bad in ["", "a.b", "a b", "a*", "a>", "ä"] {
            #expect(throws: (any Error).self, "\(bad)") { try JetStreamLayout.validate(streamName: bad) }
        }
    }

    @Test func recordsRoundTripThroughAMessageBody() throws {
        let time = Timestamp(nanosecondsSinceEpoch: -1_234_567_890_123)
        let body = JetStreamRecordFormat.encode(key: Array("device-7".utf8), eventTime: time, value: [0, 1, 2, 255])
        let buffer = [9, 9] + body + [9]
        let layout = try #require(JetStreamRecordFormat.decode(buffer, body: 2..<(2 + body.count)))
        #expect(layout.eventTime == time)
        #expect(Array(buffer[layout.key]) == Array("device-7".utf8))
        #expect(Array(buffer[layout.value]) == [0, 1, 2, 255])
        #expect(JetStreamRecordFormat.decode(body, body: 0..<5) == nil, "a truncated body is refused")
        var wrongKind = body
        wrongKind[0] = 7
        #expect(JetStreamRecordFormat.decode(wrongKind, body: 0..<wrongKind.count) == nil)
        var overlongKey = body
        overlongKey[12] = 200
        #expect(JetStreamRecordFormat.decode(overlongKey, body: 0..<overlongKey.count) == nil)
    }
}
