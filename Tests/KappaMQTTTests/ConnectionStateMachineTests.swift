@testable import KappaMQTT
import Logging
import Testing

@Suite("Connection state machine")
struct ConnectionStateMachineTests {
    @Test func firstConnectSubscribesAndCountsTheConnection() {
        var machine = ConnectionStateMachine()
        #expect(machine.start() == .connect)
        #expect(machine.connackReceived(accepted: true, sessionPresent: false) == .subscribeAll)
        #expect(machine.isConnected)
        #expect(machine.connectionCount == 1)
    }

    @Test func reconnectWithStoredSessionDoesNotResubscribe() {
        var machine = ConnectionStateMachine()
        _ = machine.start()
        _ = machine.connackReceived(accepted: true, sessionPresent: false)
        #expect(machine.connectionLost() == .reconnectAfterBackoff(attempt: 0))
        #expect(machine.backoffElapsed() == .connect)
        #expect(machine.connackReceived(accepted: true, sessionPresent: true) == .none)
        #expect(machine.connectionCount == 2)
    }

    @Test func reconnectThatLostTheSessionResubscribes() {
        var machine = ConnectionStateMachine()
        _ = machine.start()
        _ = machine.connackReceived(accepted: true, sessionPresent: true)
        _ = machine.connectionLost()
        _ = machine.backoffElapsed()
        #expect(machine.connackReceived(accepted: true, sessionPresent: false) == .subscribeAll)
    }

    @Test func failedAttemptsBackOffFurtherEachTime() {
        var machine = ConnectionStateMachine()
        _ = machine.start()
        #expect(machine.connectAttemptFailed() == .reconnectAfterBackoff(attempt: 0))
        #expect(machine.backoffElapsed() == .connect)
        #expect(machine.connectAttemptFailed() == .reconnectAfterBackoff(attempt: 1))
        #expect(machine.backoffElapsed() == .connect)
        #expect(machine.connackReceived(accepted: false, sessionPresent: false) == .reconnectAfterBackoff(attempt: 2))
        // The loop ending after the refusal is the same event, not a new failure.
        #expect(machine.connectionLost() == .reconnectAfterBackoff(attempt: 2))
        #expect(!machine.isConnected)
        #expect(machine.connectionCount == 0)
    }

    @Test func stopDisconnectsOnlyWhenThereIsAConnection() {
        var connected = ConnectionStateMachine()
        _ = connected.start()
        _ = connected.connackReceived(accepted: true, sessionPresent: false)
        #expect(connected.stopRequested() == .disconnect)
        #expect(connected.connectionLost() == .none)
        #expect(connected.stopRequested() == .none)

        var waiting = ConnectionStateMachine()
        _ = waiting.start()
        _ = waiting.connectAttemptFailed()
        #expect(waiting.stopRequested() == .none)
        #expect(waiting.backoffElapsed() == .none)
    }

    @Test func backoffDoublesUpToTheMaximumWithBoundedJitter() {
        let backoff = MQTTConfiguration.ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(1))
        #expect(backoff.delay(attempt: 0, jitter: 0) == .milliseconds(100))
        #expect(backoff.delay(attempt: 1, jitter: 0) == .milliseconds(200))
        #expect(backoff.delay(attempt: 3, jitter: 0) == .milliseconds(800))
        #expect(backoff.delay(attempt: 4, jitter: 0) == .seconds(1))
        #expect(backoff.delay(attempt: 60, jitter: 0) == .seconds(1))
        #expect(backoff.delay(attempt: 4, jitter: 1) == .milliseconds(500))
    }
}

@Suite("Acknowledgement tracker")
struct AcknowledgementTrackerTests {
    @Test func acknowledgementAfterRegistrationReturnsTheWaiter() {
        var tracker = AcknowledgementTracker<String>()
        guard case .registered = tracker.wait(for: 7, with: "publisher") else {
            Issue.record("expected registration")
            return
        }
        #expect(tracker.acknowledged(7, .accepted) == "publisher")
        #expect(tracker.waitingCount == 0)
    }

    @Test func acknowledgementBeforeRegistrationIsKeptForTheWaiter() {
        var tracker = AcknowledgementTracker<String>()
        #expect(tracker.acknowledged(7, .refused(reasonCode: 0x87)) == nil)
        guard case .alreadyAcknowledged(let result) = tracker.wait(for: 7, with: "publisher") else {
            Issue.record("expected the early acknowledgement")
            return
        }
        #expect(result == .refused(reasonCode: 0x87))
    }

    @Test func ignoredIdsLeaveNothingBehindInEitherOrder() {
        var tracker = AcknowledgementTracker<String>()
        tracker.ignore(1)
        #expect(tracker.acknowledged(1, .accepted) == nil)
        #expect(tracker.acknowledged(2, .accepted) == nil)
        tracker.ignore(2)
        // Both ids are reused later by waiting publishers, who must not see a stale acknowledgement.
        guard case .registered = tracker.wait(for: 1, with: "a"), case .registered = tracker.wait(for: 2, with: "b") else {
            Issue.record("a stale acknowledgement was handed out")
            return
        }
        #expect(tracker.removeAllWaiters().sorted() == ["a", "b"])
    }
}

@Suite("MQTT configuration")
struct MQTTConfigurationTests {
    @Test func parsesURLs() throws {
        let plain = try MQTTConfiguration(url: "mqtt://broker.local:1884")
        #expect(plain.host == "broker.local" && plain.port == 1884 && plain.tls == nil && plain.username == nil)
        let secure = try MQTTConfiguration(url: "mqtts://gateway@broker.local")
        #expect(secure.port == 8883 && secure.tls != nil && secure.username == "gateway")
        let ipv6 = try MQTTConfiguration(url: "mqtt://[::1]:1999")
        #expect(ipv6.host == "::1" && ipv6.port == 1999)
        let bare = try MQTTConfiguration(url: "localhost")
        #expect(bare.host == "localhost" && bare.port == 1883)
    }

    @Test func refusesPasswordsAndBadPorts() {
        #expect(throws: MQTTError.self) { try MQTTConfiguration(url: "mqtt://user:secret@host") }
        #expect(throws: MQTTError.self) { try MQTTConfiguration(url: "mqtt://host:99999") }
        #expect(throws: MQTTError.self) { try MQTTConfiguration(url: "mqtt://:1883") }
        do {
            _ = try MQTTConfiguration(url: "mqtt://user:secret@host")
        } catch {
            #expect(!"\(error)".contains("secret"))
        }
    }

    @Test func persistentSessionNeedsAClientID() throws {
        #expect(throws: MQTTError.self) {
            _ = try MQTTClient.make(configuration: MQTTConfiguration(cleanSession: false), logger: .init(label: "test"))
        }
    }
}
