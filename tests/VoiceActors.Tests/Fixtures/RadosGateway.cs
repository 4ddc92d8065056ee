using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace VoiceActors.Tests.Fixtures;

/// <summary>
/// A real S3 server: a single-node Ceph cluster (one monitor, one memstore OSD) under a RADOS Gateway, all on free loopback
/// ports in a throw-away directory, started once for the tests that share it and stopped in reverse order (see
/// ../shared/RECORDING-NOTES.md). Ready in about 12 s. One user with a known key; the bucket is left to the code under test.
/// </summary>
public sealed class RadosGateway : IAsyncLifetime
{
    public const string AccessKey = "VOICEACTORSTESTKEY01";
    public const string SecretKey = "voiceactors-test-secret-key-0123456789abcd";
    public const string Bucket = "recordings-test";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"va-rgw-{Guid.NewGuid():N}");
    private readonly List<ChildProcess> _processes = [];
    private string _conf = "";

    public int Port { get; private set; }

    public string ServiceUrl => $"http://127.0.0.1:{Port}";

    public AmazonS3Client Client { get; private set; } = null!;

    /// <summary>The silo settings that point recordings at this gateway (with a master key pair, to exercise rotation).</summary>
    public Dictionary<string, string?> Settings() => new()
    {
        ["Recordings:S3:ServiceUrl"] = ServiceUrl,
        ["Recordings:S3:Bucket"] = Bucket,
        ["Recordings:S3:AccessKey"] = AccessKey,
        ["Recordings:S3:SecretKey"] = SecretKey,
        ["Recordings:MasterKeys:k2025"] = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + 1)).ToArray()),
        ["Recordings:MasterKeys:k2026"] = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)(i * 13 + 5)).ToArray()),
        ["Recordings:CurrentKeyId"] = "k2026",
    };

    public async Task InitializeAsync()
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

            """); // ceph's parser wants the file to end with a newline
        try
        {
            await RunAsync("monmaptool", "--create", "--addv", "a", $"[v2:127.0.0.1:{mon}]", "--fsid", fsid, Path.Combine(_dir, "monmap"));
            await RunAsync("ceph-mon", "-c", _conf, "--mkfs", "-i", "a", "--monmap", Path.Combine(_dir, "monmap"));
            _processes.Add(ChildProcess.Start("ceph-mon", ["-c", _conf, "-i", "a", "-f"], _dir, name: "ceph-mon"));
            var uuid = Guid.NewGuid().ToString();
            await RunAsync("ceph", "-c", _conf, "--connect-timeout", "20", "osd", "new", uuid); // waits for the monitor
            await RunAsync("ceph-osd", "-c", _conf, "-i", "0", "--mkfs", "--osd-uuid", uuid); // the uuid must match, or the OSD never comes up
            _processes.Add(ChildProcess.Start("ceph-osd", ["-c", _conf, "-i", "0", "-f"], _dir, name: "ceph-osd"));
            _processes.Add(ChildProcess.Start("radosgw", ["-c", _conf, "-n", "client.rgw", "-f"], _dir, name: "radosgw"));
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

    /// <summary>Every object name in the bucket under <paramref name="prefix"/> (none when the bucket does not exist yet).</summary>
    public async Task<IReadOnlyList<string>> ListAsync(string prefix = "")
    {
        try
        {
            var names = new List<string>();
            var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix };
            ListObjectsV2Response page;
            do
            {
                page = await Client.ListObjectsV2Async(request);
                names.AddRange((page.S3Objects ?? []).Select(o => o.Key));
                request.ContinuationToken = page.NextContinuationToken;
            }
            while (page.IsTruncated == true);
            return names;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchBucket")
        {
            return [];
        }
    }

    public async Task<byte[]> GetAsync(string name)
    {
        using var response = await Client.GetObjectAsync(Bucket, name);
        using var copy = new MemoryStream();
        await response.ResponseStream.CopyToAsync(copy);
        return copy.ToArray();
    }

    public async Task PutAsync(string name, byte[] bytes)
    {
        using var body = new MemoryStream(bytes);
        await Client.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = name, InputStream = body });
    }

    private async Task RunAsync(string program, params string[] arguments)
    {
        await using var process = ChildProcess.Start(program, arguments, _dir, name: program);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        if (process.Process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.Process.ExitCode}):\n{process.Output}");
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        for (var i = _processes.Count - 1; i >= 0; i--) await _processes[i].DisposeAsync(); // radosgw, then the OSD, then the monitor
        _processes.Clear();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
