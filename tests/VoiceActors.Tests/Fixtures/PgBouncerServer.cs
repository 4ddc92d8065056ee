using Npgsql;

namespace VoiceActors.Tests.Fixtures;

/// <summary>
/// A real PgBouncer in transaction pooling mode in front of a <see cref="PostgresServer"/>, on its own free port, with a small
/// server pool so that consecutive transactions of one client really do land on different server connections. PgBouncer
/// 1.18 has no prepared-statement support in this mode: any server-side prepared statement would fail here.
/// </summary>
public sealed class PgBouncerServer(PostgresServer postgres) : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("va-pgbouncer-").FullName;
    private ChildProcess? _process;

    public int Port { get; private set; }
    public int ServerPoolSize { get; private set; }

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=10;Command Timeout=30";

    public async Task StartAsync(int serverPoolSize = 3)
    {
        Port = FreePort.Next();
        ServerPoolSize = serverPoolSize;
        var config = Path.Combine(_dir, "pgbouncer.ini");
        await File.WriteAllTextAsync(Path.Combine(_dir, "userlist.txt"), "\"postgres\" \"\"\n");
        await File.WriteAllTextAsync(config, $"""
            [databases]
            * = host=127.0.0.1 port={postgres.Port}

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {Port}
            unix_socket_dir = {_dir}
            auth_type = trust
            auth_file = {Path.Combine(_dir, "userlist.txt")}
            pool_mode = transaction
            default_pool_size = {serverPoolSize}
            max_client_conn = 500
            server_reset_query =
            ignore_startup_parameters = extra_float_digits
            pidfile = {Path.Combine(_dir, "pgbouncer.pid")}
            """);
        PostgresServer.AsPostgresOwner(_dir);
        var (file, args) = PostgresServer.AsPostgres("pgbouncer");
        _process = ChildProcess.Start(file, [.. args, config]);

        var process = _process;
        await Eventually.UntilAsync(async () =>
        {
            if (process.HasExited) throw new InvalidOperationException($"pgbouncer exited on start-up on {Port}: {process.Output}");
            await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
            await connection.OpenAsync();
            return true;
        }, TimeSpan.FromSeconds(15), () => $"pgbouncer did not start on {Port}: {process.Output}", TimeSpan.FromMilliseconds(100),
            e => e is NpgsqlException or IOException or System.Net.Sockets.SocketException);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
