@testable import KappaJetStream
import Testing

@Suite("Publish acknowledgements across append attempts (no server)")
struct PublishAcknowledgementTests {
    /// An append gave up on a publish at sequence 11; its retry publishes another record at 11. The abandoned
    /// publish's answer arrives late, saying "stored at 11": it must not pass for the retry's answer, or the
    /// retry's record would count as stored when JetStream refused it.
    @Test func aLateAnswerToAnAbandonedAttemptDoesNotSettleTheRetry() {
        let acknowledgements = PublishAcknowledgements()
        let first = acknowledgements.nextAttempt()
        let abandoned = PublishKey(subject: "kappa.readings.0", messageID: "11", attempt: first)
        acknowledgements.expect(abandoned)
        #expect(acknowledgements.collect(deadline: 0).isEmpty)

        let second = acknowledgements.nextAttempt()
        #expect(second != first)
        let retried = PublishKey(subject: "kappa.readings.0", messageID: "11", attempt: second)
        acknowledgements.expect(retried)
        acknowledgements.settle(abandoned, .stored(sequence: 11, duplicate: false))
        #expect(acknowledgements.collect(deadline: 0)[retried] == nil)

        let third = PublishKey(subject: "kappa.readings.0", messageID: "11", attempt: acknowledgements.nextAttempt())
        acknowledgements.expect(third)
        acknowledgements.settle(third, .failed(status: "", errorCode: 10071, text: "wrong last sequence"))
        guard case .failed(_, let code, _)? = acknowledgements.collect(deadline: 0)[third] else {
            Issue.record("the retry's own answer was not kept")
            return
        }
        #expect(code == 10071)
    }
}
