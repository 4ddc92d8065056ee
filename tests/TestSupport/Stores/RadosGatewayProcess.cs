using Amazon.Runtime;
using Amazon.S3;

namespace VoiceActors.TestSupport;

/// <summary>
/// A real S3 server: a single-node Ceph cluster (one monitor, one memstore OSD) under a RADOS Gateway, all on free loopback
/// ports in a throw-away directory, stopped in reverse order on dispose (see ../shared/RECORDING-NOTES.md). Ready in about
/// 12 s. One user with a known key; the bucket is left to the code under test. The tests' fixture and the load tester's
/// <c>--record-s3</c> both run this.
/// </summary>
public sealed class RadosGatewayProcess : IAsyncDisposable
{
    public const string AccessKey = "VOICEACTORSTESTKEY01";
    public const string SecretKey = "voiceactors-test-secret-key-0123456789abcd";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"va-rgw-{Guid.NewGuid():N}");
    private readonly List<ChildProcess> _processes = [];
    private readonly bool _idle;
    private string _conf = "";

    /// <param name="idle">
    /// Run the three daemons in Linux' SCHED_IDLE class (<c>chrt --idle 0</c>): they get only CPU nothing else wants. The load
    /// tester uses it so a store that production runs on other machines does not take the silo's cores here; its per-request
    /// log lines are turned off too (the tests keep them for failure messages).
    /// </param>
    public RadosGatewayProcess(bool idle = false) => _idle = idle;

    public int Port { get; private set; }

    public string ServiceUrl => $"http://127.0.0.1:{Port}";

    /// <summary>The three daemons (monitor, OSD, gateway) while they run, for CPU accounting.</summary>
    public IReadOnlyList<int> DaemonIds => _processes.Where(p => !p.HasExited).Select(p => p.Id).ToArray();

    public AmazonS3Client Client { get; private set; } = null!;

    /// <summary>The silo settings that point recordings at this gateway (with a master key pair, to exercise rotation).</summary>
    public Dictionary<string, string?> Settings(string bucket) => new()
    {
        ["Recordings:S3:ServiceUrl"] = ServiceUrl,
        ["Recordings:S3:Bucket"] = bucket,
        ["Recordings:S3:AccessKey"] = AccessKey,
        ["Recordings:S3:SecretKey"] = SecretKey,
        ["Recordings:MasterKeys:k2025"] = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + 1)).ToArray()),
        ["Recordings:MasterKeys:k2026"] = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)(i * 13 + 5)).ToArray()),
        ["Recordings:CurrentKeyId"] = "k2026",
    };

    public async Task StartAsync()
    {
        var mon = FreePort.Next();
        Port = FreePort.Next();
        var fsid = Guid.NewGuid().ToString();
        foreach (var d in new[] { "run", "log", "mon", "osd/osd.0", "rgw" }) Directory.CreateDirectory(Path.Combine(_dir, d));
        _conf = Path.Combine(_dir, "ceph.conf");
        await File.WriteAllTextAsync(_conf, $"""
            [global]
            fsid = {fsid}
            mon host = v2:127.0.0.1:{mon}
            auth cluster required = none
            auth service required = none
            auth client required = none
            ms mon client mode = crc secure
            ms client mode = crc secure
            osd objectstore = memstore
            memstore device bytes = 1073741824
            osd pool default size = 1
            osd pool default min size = 1
            mon allow pool size one = true
            osd crush chooseleaf type = 0
            osd pool default pg autoscale mode = off
            osd pool default pg num = 8
            osd pool default pgp num = 8
            mon warn on pool no redundancy = false
            run dir = {_dir}/run
            log file = {_dir}/log/$name.log
            admin socket = {_dir}/run/$name.asok
            mon data = {_dir}/mon/$name
            osd data = {_dir}/osd/$name
            keyring = {_dir}/keyring
            rgw data = {_dir}/rgw
            rgw frontends = beast endpoint=127.0.0.1:{Port}
            {(_idle ? "debug rgw = 0/0\ndebug ms = 0/0\ndebug osd = 0/0\ndebug mon = 0/0\n" : "")}
            """); // ceph's parser wants the file to end with a newline
        try
        {
            await RunAsync("monmaptool", "--create", "--addv", "a", $"[v2:127.0.0.1:{mon}]", "--fsid", fsid, Path.Combine(_dir, "monmap"));
            await RunAsync("ceph-mon", "-c", _conf, "--mkfs", "-i", "a", "--monmap", Path.Combine(_dir, "monmap"));
            _processes.Add(Daemon("ceph-mon", "-c", _conf, "-i", "a", "-f"));
            var uuid = Guid.NewGuid().ToString();
            await RunAsync("ceph", "-c", _conf, "--connect-timeout", "20", "osd", "new", uuid); // waits for the monitor
            await RunAsync("ceph-osd", "-c", _conf, "-i", "0", "--mkfs", "--osd-uuid", uuid); // the uuid must match, or the OSD never comes up
            _processes.Add(Daemon("ceph-osd", "-c", _conf, "-i", "0", "-f"));
            _processes.Add(Daemon("radosgw", "-c", _conf, "-n", "client.rgw", "-f"));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            await Eventually.UntilAsync(async () =>
            {
                if (_processes.Find(p => p.HasExited) is { } dead) throw new InvalidOperationException($"{dead.Name} exited:\n{dead.Output}");
                using var r = await http.GetAsync(ServiceUrl);
                return true;
            }, TimeSpan.FromSeconds(90), () => $"radosgw did not answer on {ServiceUrl}:\n{_processes[^1].Output}", TimeSpan.FromMilliseconds(250),
                transient: e => e is HttpRequestException or TaskCanceledException);
            await RunAsync("radosgw-admin", "-c", _conf, "user", "create", "--uid=voiceactors", "--display-name=voiceactors",
                $"--access-key={AccessKey}", $"--secret-key={SecretKey}");
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
        Client = new AmazonS3Client(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
        {
            ServiceURL = ServiceUrl,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });
    }

    private ChildProcess Daemon(string program, params string[] arguments) => _idle
        ? ChildProcess.Start("chrt", ["--idle", "0", program, .. arguments], _dir, name: program)
        : ChildProcess.Start(program, arguments, _dir, name: program);

    private async Task RunAsync(string program, params string[] arguments)
    {
        await using var process = ChildProcess.Start(program, arguments, _dir, name: program);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        if (process.Process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.Process.ExitCode}):\n{process.Output}");
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        for (var i = _processes.Count - 1; i >= 0; i--) await _processes[i].DisposeAsync(); // radosgw, then the OSD, then the monitor
        _processes.Clear();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
