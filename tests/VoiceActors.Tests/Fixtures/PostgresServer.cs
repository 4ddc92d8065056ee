using Npgsql;

namespace VoiceActors.Tests.Fixtures;

/// <summary>
/// A real PostgreSQL 15 on a free port: <c>initdb</c> into a temporary directory, run as the <c>postgres</c> user (PostgreSQL
/// refuses to run as root), unix socket inside that directory; stopped and deleted on dispose. Each test asks for its own database.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("va-pg-").FullName;
    private ChildProcess? _process;
    private int _databases;

    public int Port { get; private set; }
    public string SocketDirectory => _dir;
    private string DataDirectory => Path.Combine(_dir, "data");

    public static string BinDirectory
    {
        get
        {
            var fromPgConfig = RunForOutput("pg_config", ["--bindir"]).Trim();
            return File.Exists(Path.Combine(fromPgConfig, "initdb")) ? fromPgConfig : "/usr/lib/postgresql/15/bin";
        }
    }

    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=10;Command Timeout=30";

    public async Task InitializeAsync()
    {
        Port = FreePort.Next();
        var bin = BinDirectory;
        AsPostgresOwner(_dir);
        Run(bin, "initdb", ["-D", DataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
        _process = ChildProcess.Start(AsPostgres(Path.Combine(bin, "postgres")).File, [.. AsPostgres(Path.Combine(bin, "postgres")).Args,
            "-D", DataDirectory, "-p", Port.ToString(), "-k", _dir, "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300"]);
        var process = _process;
        await Eventually.UntilAsync(async () =>
        {
            if (process.HasExited) throw new InvalidOperationException($"PostgreSQL exited on start-up on {Port}: {process.Output}");
            await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
            await connection.OpenAsync();
            return true;
        }, TimeSpan.FromSeconds(30), () => $"PostgreSQL did not start on {Port}: {process.Output}", TimeSpan.FromMilliseconds(100),
            e => e is NpgsqlException or IOException or System.Net.Sockets.SocketException);
    }

    /// <summary>A fresh, empty database: tests never see each other's rows.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "va")
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}";
        await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"create database \"{name}\"", connection); // name is ours: hex and digits only
        await command.ExecuteNonQueryAsync();
        return name;
    }

    public async Task DisposeAsync()
    {
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                var (file, args) = AsPostgres(Path.Combine(BinDirectory, "pg_ctl"));
                try { RunProcess(file, [.. args, "-D", DataDirectory, "stop", "-m", "fast", "-w", "-t", "10"]); } catch (InvalidOperationException) { }
            }
            await _process.DisposeAsync();
        }
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    internal static bool IsRoot => Environment.UserName == "root";

    /// <summary>As root, PostgreSQL and PgBouncer run as <c>postgres</c>; as anyone else, as that user.</summary>
    internal static (string File, string[] Args) AsPostgres(string program) =>
        IsRoot ? ("runuser", ["-u", "postgres", "--", program]) : (program, []);

    internal static void AsPostgresOwner(string dir)
    {
        if (IsRoot) RunProcess("chown", ["-R", "postgres:postgres", dir]);
    }

    private static void Run(string bin, string program, string[] args)
    {
        var (file, prefix) = AsPostgres(Path.Combine(bin, program));
        RunProcess(file, [.. prefix, .. args]);
    }

    internal static void RunProcess(string file, string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {output.Result}{error}");
    }

    private static string RunForOutput(string file, string[] args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? output : "";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "";
        }
    }
}
