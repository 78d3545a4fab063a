import KappaPostgres
import KappaTestSupport
import Synchronization
import Testing

@Suite("Blocking libpq calls stay off the cooperative pool")
struct CooperativePoolTests {
    /// Six connections wait inside the server on an advisory lock the test holds. The cooperative pool has two
    /// threads here; if the waits blocked them, nothing else could run and this test would hang until its
    /// time limit. Instead a plain task must run to completion while every query is still waiting.
    @Test("queries blocked in the server leave other tasks running", .timeLimit(.minutes(1)))
    func blockedQueriesDoNotStarveTasks() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "offpool")
        let controller = try await database.connect()
        try await controller.execute("SELECT pg_advisory_lock(4242)")
        let waiters = 6
        let connections = try await (0..<waiters).asyncMap { _ in try await database.connect() }
        let finishedQueries = Counter()

        try await withThrowingTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask {
                    try await connection.execute("SELECT pg_advisory_lock_shared(4242)")
                    finishedQueries.value.add(1, ordering: .sequentiallyConsistent)
                }
            }
            // Wait until all six are really waiting in the server.
            while try await controller.query(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted"
            )[0][0].int64 < Int64(waiters) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let finishedWhenTrivialTaskRan = await Task { finishedQueries.value.load(ordering: .sequentiallyConsistent) }.value
            #expect(finishedWhenTrivialTaskRan == 0, "the trivial task ran while every query was still blocked")

            try await controller.execute("SELECT pg_advisory_unlock(4242)")
            try await group.waitForAll()
        }
        #expect(finishedQueries.value.load(ordering: .sequentiallyConsistent) == waiters)
        for connection in connections { await connection.close() }
        await controller.close()
    }
}

private final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

extension Sequence {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
