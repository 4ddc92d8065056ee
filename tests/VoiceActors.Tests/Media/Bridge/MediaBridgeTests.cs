using System.Diagnostics.Metrics;
using VoiceActors.Media;
using VoiceActors.Media.Bridge;

namespace VoiceActors.Tests.Media.Bridge;

/// <summary>
/// The supervisor on real Node bridge processes whose rooms are a loopback (BRIDGE_FAKE_ROOMS: AUDIO_OUT comes back as
/// AUDIO_IN), so the pipe, the process lifecycle and the re-joins are real and no SFU is needed.
/// </summary>
public sealed class MediaBridgeTests
{
    private static AgentJoin Join(string s) => new("ws://127.0.0.1:1", "eyJhbGciOiJIUzI1NiJ9.e30.sig", $"agent-{s}", $"candidate-{s}");

    [Fact]
    public async Task Join_connects_reports_the_candidate_track_and_audio_round_trips_the_pipe()
    {
        await using var h = new BridgeHarness();
        var bridge = await h.StartAsync();
        Assert.True(bridge.IsAvailable, bridge.UnavailableReason);
        var target = new RecordingTarget();
        await using var c = bridge.Join("s1", Join("s1"), target);
        await target.WaitAsync(() => target.Last == AgentRoomState.Connected && !target.Tracks.IsEmpty);
        Assert.Equal(("candidate-s1", true), Assert.Single(target.Tracks));
        for (var i = 0; i < 20; i++) await c.AudioSink.OnProviderAudio(BridgeHarness.Frame(i, (short)(1000 + i)));
        await target.WaitAsync(() => target.Audio.Count == 20);
        var frames = target.Audio.ToArray();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(BridgeHarness.Frame(i, (short)(1000 + i)).Pcm, frames[i].Pcm);
            Assert.Equal(i, frames[i].Sequence);
        }
        Assert.InRange(frames[0].SentAtUtcTicks, DateTime.UtcNow.AddSeconds(-30).Ticks, DateTime.UtcNow.AddSeconds(1).Ticks);
        Assert.Equal(20, c.Counters.FramesSent);
        Assert.Equal(20, c.Counters.FramesReceived);
    }

    [Fact]
    public async Task Bridge_process_killed_is_restarted_and_every_session_joins_again()
    {
        await using var h = new BridgeHarness();
        var bridge = await h.StartAsync();
        var targets = Enumerable.Range(0, 3).Select(_ => new RecordingTarget()).ToArray();
        var connections = targets.Select((t, i) => bridge.Join($"s{i}", Join($"s{i}"), t)).ToArray();
        foreach (var t in targets) await t.WaitAsync(() => t.Last == AgentRoomState.Connected);
        var pid = Assert.Single(bridge.Processes).Pid;

        Process.GetProcessById(pid).Kill(); // SIGKILL: no goodbye on the pipe
        foreach (var t in targets)
            await t.WaitAsync(() => t.States.Any(s => s.State == AgentRoomState.Reconnecting) && t.Last == AgentRoomState.Connected);

        var replacement = Assert.Single(bridge.Processes);
        Assert.NotEqual(pid, replacement.Pid);
        Assert.Equal(3, replacement.Sessions);
        Assert.Equal(1, bridge.Metrics.RestartCount);
        foreach (var c in connections) Assert.Equal(1, c.Counters.Rejoins);
        connections[1].SendAudio(BridgeHarness.Frame(1, 500));
        await targets[1].WaitAsync(() => targets[1].Audio.Count == 1); // audio flows on the new process
        foreach (var c in connections) await c.DisposeAsync();
    }

    [Fact]
    public async Task Sessions_above_the_per_process_limit_go_to_another_process()
    {
        await using var h = new BridgeHarness(o => o.MaxSessionsPerProcess = 2);
        var bridge = await h.StartAsync();
        var targets = Enumerable.Range(0, 5).Select(_ => new RecordingTarget()).ToArray();
        var connections = targets.Select((t, i) => bridge.Join($"s{i}", Join($"s{i}"), t)).ToArray();
        foreach (var t in targets) await t.WaitAsync(() => t.Last == AgentRoomState.Connected);
        Assert.Equal([2, 2, 1], bridge.Processes.Select(p => p.Sessions));
        foreach (var c in connections) await c.DisposeAsync();
    }

    [Fact]
    public async Task Process_past_its_session_bound_drains_to_a_fresh_one_and_is_retired()
    {
        await using var h = new BridgeHarness(o => { o.MaxSessionsPerProcess = 2; o.RecycleAfterSessions = 2; });
        var bridge = await h.StartAsync();
        var a = new RecordingTarget();
        var b = new RecordingTarget();
        var ca = bridge.Join("a", Join("a"), a);
        var cb = bridge.Join("b", Join("b"), b);
        await a.WaitAsync(() => a.Last == AgentRoomState.Connected);
        var old = Assert.Single(bridge.Processes);
        Assert.True(old.Draining);

        var c = new RecordingTarget();
        var cc = bridge.Join("c", Join("c"), c); // the old process takes no new sessions
        await c.WaitAsync(() => c.Last == AgentRoomState.Connected);
        Assert.Equal(2, bridge.Processes.Count);
        await ca.DisposeAsync();
        await cb.DisposeAsync();
        var oldProcess = Process.GetProcessById(old.Pid);
        await oldProcess.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); // retired once empty, not killed
        Assert.Equal(0, bridge.Metrics.RestartCount); // its exit was a retirement, not a crash
        Assert.Equal(1, bridge.Metrics.RecycledCount);
        await cc.DisposeAsync();
    }

    [Fact]
    public async Task Stopping_the_host_stops_every_bridge_process()
    {
        var h = new BridgeHarness(o => o.MaxSessionsPerProcess = 1);
        var bridge = await h.StartAsync();
        var targets = new[] { new RecordingTarget(), new RecordingTarget() };
        _ = targets.Select((t, i) => bridge.Join($"s{i}", Join($"s{i}"), t)).ToArray();
        foreach (var t in targets) await t.WaitAsync(() => t.Last == AgentRoomState.Connected);
        var processes = bridge.Processes.Select(p => Process.GetProcessById(p.Pid)).ToArray();
        Assert.Equal(2, processes.Length);
        await h.DisposeAsync();
        foreach (var p in processes) Assert.True(p.HasExited);
    }

    [Fact]
    public async Task Missing_node_makes_the_bridge_unavailable_not_the_silo()
    {
        await using var h = new BridgeHarness(o => o.NodePath = "/nonexistent/node");
        var bridge = await h.StartAsync();
        Assert.False(bridge.IsAvailable);
        Assert.Contains("Node", bridge.UnavailableReason);
        Assert.Throws<InvalidOperationException>(() => bridge.Join("s", Join("s"), new RecordingTarget()));
    }

    [Fact]
    public async Task Metrics_exist_at_zero_from_start_up()
    {
        await using var h = new BridgeHarness();
        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) => { if (i.Name.StartsWith("voice_bridge_", StringComparison.Ordinal)) l.EnableMeasurementEvents(i); };
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => seen[i.Name] = seen.GetValueOrDefault(i.Name) + v);
        listener.SetMeasurementEventCallback<int>((i, v, _, _) => seen[i.Name] = seen.GetValueOrDefault(i.Name) + v);
        listener.Start();
        await h.StartAsync();
        listener.RecordObservableInstruments();
        foreach (var name in new[] { "voice_bridge_frames", "voice_bridge_frames_dropped", "voice_bridge_restarts", "voice_bridge_processes", "voice_bridge_sessions", "voice_bridge_rss_bytes" })
            Assert.Equal(0, seen[name]);
    }

    [Fact]
    public async Task A_barge_in_on_the_relay_sink_clears_the_queue_here_and_in_the_bridge()
    {
        await using var h = new BridgeHarness(o => o.SiloQueueFrames = 500);
        var bridge = await h.StartAsync();
        var t = new RecordingTarget();
        await using var c = (AgentRoomConnection)bridge.Join("b", Join("b"), t);
        await t.WaitAsync(() => t.Last == AgentRoomState.Connected);
        await c.AudioSink.OnBargeIn(0); // nothing queued, nothing playing: harmless
        for (var i = 0; i < 400; i++) await c.AudioSink.OnProviderAudio(BridgeHarness.Frame(i, 100)); // 8 s of answer at once

        await c.AudioSink.OnBargeIn(400); // what the relay calls when the candidate talks over the agent
        var marker = BridgeHarness.Frame(9999, 2000);
        await c.AudioSink.OnProviderAudio(marker);
        await t.WaitAsync(() => t.Audio.Any(f => f.Pcm.AsSpan().SequenceEqual(marker.Pcm)));
        // STATS (every 200 ms here) carry the bridge's own count: CLEAR reached the process, which ran clearQueue for both.
        await VoiceActors.TestSupport.Eventually.UntilAsync(() => c.BridgeClears == 2, TimeSpan.FromSeconds(10), () => $"2 clears in the bridge, saw {c.BridgeClears}");

        Assert.Equal(marker.Pcm, t.Audio.Last().Pcm); // audio after the barge-in (the next answer) still plays
    }

    [Fact]
    public async Task Audio_sent_after_clear_follows_it_and_a_flood_drops_only_the_flooding_session()
    {
        await using var h = new BridgeHarness(o => o.SiloQueueFrames = 10);
        var bridge = await h.StartAsync();
        var t = new RecordingTarget();
        var quiet = new RecordingTarget();
        await using var c = bridge.Join("s", Join("s"), t);
        await using var q = bridge.Join("q", Join("q"), quiet);
        await t.WaitAsync(() => t.Last == AgentRoomState.Connected);
        await quiet.WaitAsync(() => quiet.Last == AgentRoomState.Connected);
        for (var i = 0; i < 2000; i++) c.SendAudio(BridgeHarness.Frame(i, 100)); // 40 s of audio at once
        q.SendAudio(BridgeHarness.Frame(0, 300));
        c.Clear();
        var marker = BridgeHarness.Frame(9999, 2000);
        c.SendAudio(marker);
        await t.WaitAsync(() => t.Audio.Any(f => f.Pcm.AsSpan().SequenceEqual(marker.Pcm)));
        await quiet.WaitAsync(() => quiet.Audio.Count == 1);
        Assert.Equal(marker.Pcm, t.Audio.Last().Pcm);
        Assert.Equal(0, q.Counters.FramesDroppedOut);
    }
}
