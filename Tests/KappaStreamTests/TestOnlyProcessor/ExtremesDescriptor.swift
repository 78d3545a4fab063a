import KappaPostgres
import KappaStorage

extension ProcessorDescriptor {
    /// Not in ``ProcessorCatalog``: the test passes it to ``ProcessorSet`` itself, which is what registering
    /// it there (one line) would do for `kappa run`.
    static let extremes = ProcessorDescriptor(
        name: "test-extremes",
        tables: ["device_extremes"],
        migrations: [
            SchemaMigration(version: 1_000_001, name: "test-only: device extremes", sql: """
                CREATE TABLE {schema}.device_extremes_v1 (
                    device text PRIMARY KEY,
                    low double precision NOT NULL,
                    high double precision NOT NULL
                );
                """),
        ],
        makeWriter: { schema, version, _ in ExtremesWriter(schema: schema, version: version) },
        makeProcessor: { _, _ in ExtremesProcessor() }
    )
}
