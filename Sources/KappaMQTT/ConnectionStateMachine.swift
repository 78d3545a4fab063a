/// The life of one MQTT connection, as a value: events in, actions out, no I/O.
///
/// The network thread feeds it what happened (a connect attempt failed, the broker answered CONNACK, the
/// connection dropped, the user asked to stop) and does what it says. Resubscribing after every CONNACK
/// that lost the session is decided here, because a gateway that reconnects but forgets to resubscribe
/// stalls silently.
struct ConnectionStateMachine: Sendable {
    enum State: Sendable, Equatable {
        case idle
        /// A TCP connect and CONNECT are under way; `attempt` counts failures since the last good CONNACK.
        case connecting(attempt: Int)
        case connected(sessionPresent: Bool)
        case waitingToReconnect(attempt: Int)
        case stopped
    }

    enum Action: Sendable, Equatable {
        case none
        case connect
        /// Send SUBSCRIBE for every registered subscription.
        case subscribeAll
        /// Wait `attempt`'s backoff delay, then connect again.
        case reconnectAfterBackoff(attempt: Int)
        case disconnect
    }

    private(set) var state: State = .idle
    /// Number of successful CONNACKs, so observers can tell a reconnect from the first connect.
    private(set) var connectionCount = 0

    var isConnected: Bool {
        if case .connected = state { return true }
        return false
    }

    mutating func start() -> Action {
        guard case .idle = state else { return .none }
        state = .connecting(attempt: 0)
        return .connect
    }

    /// The TCP connect or sending CONNECT failed.
    mutating func connectAttemptFailed() -> Action {
        switch state {
        case .connecting(let attempt):
            state = .waitingToReconnect(attempt: attempt)
            return .reconnectAfterBackoff(attempt: attempt)
        case .connected:
            state = .waitingToReconnect(attempt: 0)
            return .reconnectAfterBackoff(attempt: 0)
        case .idle, .waitingToReconnect, .stopped:
            return .none
        }
    }

    /// The backoff delay passed.
    mutating func backoffElapsed() -> Action {
        guard case .waitingToReconnect(let attempt) = state else { return .none }
        state = .connecting(attempt: attempt + 1)
        return .connect
    }

    mutating func connackReceived(accepted: Bool, sessionPresent: Bool) -> Action {
        guard case .connecting(let attempt) = state else { return .none }
        guard accepted else {
            state = .waitingToReconnect(attempt: attempt)
            return .reconnectAfterBackoff(attempt: attempt)
        }
        state = .connected(sessionPresent: sessionPresent)
        connectionCount += 1
        // A present session still holds our subscriptions; resubscribing would make the broker resend
        // retained messages, so only a fresh session is resubscribed.
        return sessionPresent ? .none : .subscribeAll
    }

    /// The network loop reported the connection gone (broker restart, network error, keepalive timeout).
    mutating func connectionLost() -> Action {
        switch state {
        case .connected:
            state = .waitingToReconnect(attempt: 0)
            return .reconnectAfterBackoff(attempt: 0)
        case .connecting(let attempt):
            // Dropped before a CONNACK: keep counting, so a broker that refuses us is not hammered.
            state = .waitingToReconnect(attempt: attempt)
            return .reconnectAfterBackoff(attempt: attempt)
        case .waitingToReconnect(let attempt):
            // A refusing CONNACK already moved here; the network loop ending is the same event seen again.
            return .reconnectAfterBackoff(attempt: attempt)
        case .idle, .stopped:
            return .none
        }
    }

    mutating func stopRequested() -> Action {
        switch state {
        case .stopped:
            return .none
        case .connected, .connecting:
            state = .stopped
            return .disconnect
        case .idle, .waitingToReconnect:
            state = .stopped
            return .none
        }
    }
}
