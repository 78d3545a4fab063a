import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Testing

/// Dead letters replayed after a route fix: each appended once, however often the replay runs.
@Suite struct DeadLetterReplayTests {
    @Test(.timeLimit(.minutes(1))) func deadLettersFromAnUnknownTopicReplayOnceAfterTheRouteIsAdded() async throws {
        let log = try TestLog(partitions: 2)
        defer { log.remove() }
        let deadLetters = try log.log.createStream(named: KappaStreams.deadLetters, partitionCount: 1)
        let base = Timestamp(secondsSinceEpoch: 1_714_521_600)
        var letters: [DeadLetter] = []
        for index in 0..<5 {
            let topic = "plant/boiler-\(index % 2)/temp"
            letters.append(DeadLetter(topic: topic, payload: Array("\(20 + index)".utf8), receivedAt: base.adding(nanoseconds: Int64(index) * 1_000_000_000), problem: .unknownTopic(topic, filters: [])))
        }
        // One message dead-lettered twice (two problems) is appended once.
        letters.append(letters[0])
        // Still malformed under the new route, and a partly ingested message: neither is replayed.
        letters.append(DeadLetter(topic: "plant/boiler-0/temp", payload: Array("warm".utf8), receivedAt: base, problem: .unknownTopic("plant/boiler-0/temp", filters: [])))
        letters.append(DeadLetter(topic: "devices/x/telemetry", payload: Array(#"{"a": 1, "b": "x"}"#.utf8), receivedAt: base,
                                  problem: DecodeProblem(reason: .nonNumericValue, message: "b is not a number")))
        _ = try deadLetters.append(letters.map { LogAppendRecord(key: $0.topic, eventTime: $0.receivedAt, value: DeadLetterRecord.encode($0)) })

        let database = try await migratedDatabase("dead_letter_replay")
        let connection = try await database.connect()
        let before = DeadLetterReplay(deadLetters: deadLetters, readings: log.readings, router: TopicRouter(routes: TopicRoute.defaults), decoder: PayloadDecoder())
        let unchanged = try await before.run(connection)
        #expect(unchanged.replayed == 0 && unchanged.stillFailing == 7 && unchanged.partial == 1)

        let fixed = DeadLetterReplay(
            deadLetters: deadLetters, readings: log.readings,
            router: TopicRouter(routes: TopicRoute.defaults + [try TopicRoute("plant/{device}/{metric}", format: .number)]), decoder: PayloadDecoder()
        )
        let first = try await fixed.run(connection)
        #expect(first.examined == 8 && first.replayed == 5 && first.readings == 5 && first.stillFailing == 1 && first.partial == 1)
        let appended = try LogContents.readings(of: log.readings)
        #expect(appended.map(\.value).sorted() == [20, 21, 22, 23, 24])
        #expect(Set(appended.map(\.device)) == ["boiler-0", "boiler-1"] && appended.allSatisfy { $0.metric == "temp" })

        let second = try await fixed.run(connection)
        #expect(second.replayed == 0 && second.alreadyReplayed == 5)
        #expect(try LogContents.readings(of: log.readings).count == 5)
        #expect(try await fixed.claimedButNotAppended(connection) == 0)
        await connection.close()
    }
}
