using Microsoft.Extensions.Logging.Abstractions;
using VoiceActors.PostSession.Persistence;

namespace VoiceActors.Tests.PostSession;

/// <summary>One real PostgreSQL and one real PgBouncer (transaction pooling) for the post-session tests; each test takes a fresh database.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public PostgresServer Postgres { get; } = new();
    public PgBouncerServer PgBouncer { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Postgres.InitializeAsync();
        PgBouncer = new PgBouncerServer(Postgres);
        await PgBouncer.StartAsync(serverPoolSize: 3);
    }

    /// <summary>A fresh migrated database, reached directly or through PgBouncer.</summary>
    public async Task<(string ConnectionString, PostgresConnections Connections)> MigratedDatabaseAsync(Route route)
    {
        var db = await Postgres.CreateDatabaseAsync();
        var cs = ConnectionString(route, db);
        var connections = new PostgresConnections(cs, replica: null);
        await new PostgresMigrations(connections, NullLogger<PostgresMigrations>.Instance).ApplyAsync();
        return (cs, connections);
    }

    public string ConnectionString(Route route, string db) =>
        route == Route.PgBouncer ? PgBouncer.ConnectionString(db) : Postgres.ConnectionString(db);

    public async Task DisposeAsync()
    {
        if (PgBouncer is not null) await PgBouncer.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}

public enum Route
{
    Direct,
    PgBouncer,
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
