import KappaPostgres

/// Slows a processor's checkpoints inside PostgreSQL, for tests whose stop or kill must land while records are
/// still being processed.
///
/// The processors' own threads can outrun any poll of the test on a loaded machine (the cooperative pool the test
/// runs on has two threads, shared by every test running in parallel), so a run could reach the end before the
/// test's stop or kill, however the test timed it. Each checkpoint that moves a partition's offset again (its first
/// move stays fast) sleeps in its transaction, so the run lasts long enough for the test to land mid-run. A sleep
/// ends by itself: unlike a lock the test holds, a test that fails or is cancelled can never leave a processor,
/// and with it the graceful shutdown that waits for its checkpoint, waiting for ever.
enum CheckpointBrake {
    /// Every later checkpoint of `version` waits `seconds` for each partition it moves.
    static func engage(_ connection: PostgresConnection, version: String, seconds: Double) async throws {
        try await connection.executeScript(
            """
            CREATE OR REPLACE FUNCTION public.kappa_test_checkpoint_brake() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep(\(seconds)); RETURN NEW; END $$;
            DROP TRIGGER IF EXISTS kappa_test_checkpoint_brake ON kappa.processor_offsets;
            CREATE TRIGGER kappa_test_checkpoint_brake BEFORE UPDATE ON kappa.processor_offsets FOR EACH ROW
                WHEN (OLD.output_version = '\(version)' AND OLD.next_offset > 0)
                EXECUTE FUNCTION public.kappa_test_checkpoint_brake();
            """
        )
    }

    /// Checkpoints run at full speed again.
    static func release(_ connection: PostgresConnection) async throws {
        try await connection.executeScript("DROP TRIGGER IF EXISTS kappa_test_checkpoint_brake ON kappa.processor_offsets")
    }
}
