using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VoiceActors.Media;
using VoiceActors.Media.Bridge;

namespace VoiceActors.Tests.Media.Bridge;

/// <summary>A target that records what its connection delivers and lets a test await a condition on it (no polling sleeps).</summary>
public sealed class RecordingTarget : IAgentMediaTarget
{
    private readonly object _gate = new();
    private readonly List<(Func<bool> Condition, TaskCompletionSource Done)> _waiters = [];
    public readonly ConcurrentQueue<AudioFrame> Audio = new();
    public readonly ConcurrentQueue<(AgentRoomState State, string Reason)> States = new();
    public readonly ConcurrentQueue<(string Identity, bool Subscribed)> Tracks = new();
    public volatile AgentRoomState Last = (AgentRoomState)255;

    public void OnCandidateAudio(AudioFrame frame) { Audio.Enqueue(frame); Pulse(); }
    public void OnStateChanged(AgentRoomState state, string reason) { States.Enqueue((state, reason)); Last = state; Pulse(); }
    public void OnCandidateTrack(string participantIdentity, bool subscribed) { Tracks.Enqueue((participantIdentity, subscribed)); Pulse(); }

    public Task WaitAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (condition()) return Task.CompletedTask;
            _waiters.Add((condition, tcs));
        }
        return tcs.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
    }

    private void Pulse()
    {
        lock (_gate)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (!_waiters[i].Condition()) continue;
                _waiters[i].Done.TrySetResult();
                _waiters.RemoveAt(i);
            }
        }
    }
}

/// <summary>A MediaBridge on real Node processes, built the way the silo builds it (options, validator, meter factory).</summary>
public sealed class BridgeHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public BridgeHarness(Action<MediaBridgeOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddMediaBridge();
        services.Configure<MediaBridgeOptions>(o =>
        {
            o.FakeRooms = true;
            o.StatsInterval = TimeSpan.FromMilliseconds(200);
            o.RestartBackoffInitial = TimeSpan.FromMilliseconds(100);
            configure?.Invoke(o);
        });
        _services = services.BuildServiceProvider();
        Bridge = _services.GetRequiredService<MediaBridge>();
    }

    public MediaBridge Bridge { get; }
    public IServiceProvider Services => _services;

    public async Task<MediaBridge> StartAsync()
    {
        foreach (var hosted in _services.GetServices<IHostedService>()) await hosted.StartAsync(CancellationToken.None);
        return Bridge;
    }

    public static AudioFrame Frame(long seq, short amplitude)
    {
        var pcm = new byte[AudioFormat.FrameBytes];
        for (var i = 0; i < AudioFormat.SamplesPerFrame; i++)
        {
            var s = (short)(amplitude * Math.Sin(2 * Math.PI * 440 * i / AudioFormat.SampleRate));
            pcm[2 * i] = (byte)s;
            pcm[2 * i + 1] = (byte)(s >> 8);
        }
        return new AudioFrame(seq, 0, pcm);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var hosted in _services.GetServices<IHostedService>()) await hosted.StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
    }
}
