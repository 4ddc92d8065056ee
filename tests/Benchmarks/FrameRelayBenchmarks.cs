using VoiceActors.LiveKit;
using BenchmarkDotNet.Attributes;
using VoiceActors.Diagnostics;
using VoiceActors.LoadTest.Cluster;
using VoiceActors.Media;
using VoiceActors.Sessions;

namespace VoiceActors.Benchmarks;

/// <summary>
/// A 20 ms candidate frame through the grain: client → gateway → session grain → audio relay → simulated provider's queue,
/// against the ping grain over the same path (the ceiling). One silo in process, reached over TCP like a real client.
/// </summary>
[BenchmarkCategory("relay")]
public class FrameRelayBenchmarks
{
    private const int Sessions = 256;
    private InProcessCluster _cluster = null!;
    private ISessionMediaGrain[] _sessions = null!;
    private IPingGrain[] _pings = null!;
    private byte[] _pcm = null!;
    private long _sequence;

    [Params(1, 64)]
    public int Concurrent { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        // Frames faster than real time are dropped by the relay's limiter: allow the benchmark's rate so every frame takes the full path.
        _cluster = await InProcessCluster.StartAsync(new Dictionary<string, string?>
        {
            ["Media:MaxRealTimeRatio"] = "10",
            ["Media:BurstMilliseconds"] = "10000",
        }, CancellationToken.None);
        var client = _cluster.Client;
        _sessions = new ISessionMediaGrain[Sessions];
        _pings = new IPingGrain[Sessions];
        for (var i = 0; i < Sessions; i++)
        {
            var id = SessionIds.New();
            await client.GetGrain<IInterviewSessionGrain>(id).Create(new CreateSession("bench", $"c{i}", "j", ProviderSettings.Default, ConsentFlags.None, "local"));
            await client.GetGrain<ISessionRoomEventsGrain>(id).ApplyRoomEvent(
                new RoomEvent($"EV_bench_{i}", RoomEventKind.ParticipantJoined, $"candidate-{i}", ParticipantRole.Candidate));
            _sessions[i] = client.GetGrain<ISessionMediaGrain>(id);
            _pings[i] = client.GetGrain<IPingGrain>(i);
            await _pings[i].Ping(0);
        }
        _pcm = new byte[960]; // 20 ms of PCM16 at 24 kHz
    }

    [GlobalCleanup]
    public async Task Cleanup() => await _cluster.DisposeAsync();

    [Benchmark(Description = "PushCandidateAudio (frame through the grain)")]
    public Task Push()
    {
        if (Concurrent == 1) return _sessions[(int)(_sequence % Sessions)].PushCandidateAudio(Frame());
        var calls = new Task[Concurrent];
        for (var i = 0; i < Concurrent; i++) calls[i] = _sessions[(int)((_sequence + i) % Sessions)].PushCandidateAudio(Frame());
        return Task.WhenAll(calls);
    }

    [Benchmark(Baseline = true, Description = "Ping (the ceiling)")]
    public Task Ping()
    {
        if (Concurrent == 1) return _pings[(int)(_sequence++ % Sessions)].Ping(1).AsTask();
        var calls = new Task[Concurrent];
        for (var i = 0; i < Concurrent; i++) calls[i] = _pings[(int)(_sequence++ % Sessions)].Ping(i).AsTask();
        return Task.WhenAll(calls);
    }

    private AudioFrame Frame() => new(_sequence++, DateTime.UtcNow.Ticks, _pcm);
}
