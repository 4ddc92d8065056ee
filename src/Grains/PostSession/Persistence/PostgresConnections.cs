using Npgsql;

namespace VoiceActors.PostSession.Persistence;

/// <summary>
/// The primary (writes) and the optional read replica (read-only queries) as Npgsql data sources, both made safe for
/// PgBouncer in transaction pooling mode, where consecutive transactions of one client may run on different server connections:
/// <list type="bullet">
/// <item><c>Max Auto Prepare=0</c> and no explicit <c>Prepare()</c>: a server-side prepared statement would be missing on the next server connection.</item>
/// <item><c>No Reset On Close=true</c>: no <c>DISCARD ALL</c> on return to the pool; there is no session state to reset, and PgBouncer owns server sessions.</item>
/// <item><c>Multiplexing=false</c>, <c>Enlist=false</c>: one command sequence per physical connection, no ambient transactions.</item>
/// <item>no session state in SQL: no <c>SET</c>, <c>LISTEN</c>, temp tables or session advisory locks; migrations take a transaction-scoped advisory lock.</item>
/// </list>
/// </summary>
public sealed class PostgresConnections : IAsyncDisposable
{
    public PostgresConnections(string primary, string? replica)
    {
        Primary = NpgsqlDataSource.Create(PgBouncerSafe(primary));
        Replica = string.IsNullOrWhiteSpace(replica) ? Primary : NpgsqlDataSource.Create(PgBouncerSafe(replica));
    }

    public NpgsqlDataSource Primary { get; }
    public NpgsqlDataSource Replica { get; }

    public static string PgBouncerSafe(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxAutoPrepare = 0,
            NoResetOnClose = true,
            Multiplexing = false,
            Enlist = false,
        };
        if (string.IsNullOrEmpty(b.ApplicationName)) b.ApplicationName = "voiceactors";
        return b.ConnectionString;
    }

    public async ValueTask DisposeAsync()
    {
        if (!ReferenceEquals(Replica, Primary)) await Replica.DisposeAsync();
        await Primary.DisposeAsync();
    }
}
