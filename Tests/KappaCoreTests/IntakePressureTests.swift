import KappaCore
import Testing

@Suite("Intake pressure")
struct IntakePressureTests {
    @Test("small bursts are not a backlog; a large one is, until the window has passed")
    func backlogFollowsLargeBursts() async throws {
        let pressure = IntakePressure(backlogBurst: 64, window: .milliseconds(30))
        #expect(!pressure.isBacklogged)
        pressure.burstCommitted(messages: 1)
        pressure.burstCommitted(messages: 63)
        #expect(!pressure.isBacklogged)
        pressure.burstCommitted(messages: 64)
        #expect(pressure.isBacklogged)
        try await Task.sleep(for: .milliseconds(120))
        #expect(!pressure.isBacklogged)
        pressure.burstCommitted(messages: 1_000)
        #expect(pressure.isBacklogged)
    }
}
