using System.Text.Json.Nodes;
using VoiceActors.LiveKit;
using VoiceActors.Media;
using VoiceActors.Providers;

namespace VoiceActors.Tests.Providers;

/// <summary>
/// Provider session rotation through the real OpenAI Realtime adapter, against the local server enforcing a short session
/// cap the way OpenAI does at 60 minutes (an <c>error</c> event <c>session_expired</c>, then a close 1001). Real sockets, so
/// the real clock: budgets of a few seconds, assertions about what each session received and in which order, not about speed.
/// </summary>
public sealed class RotationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);
    private FakeRealtimeServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeRealtimeServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private RealtimeVoiceProvider Adapter(string name, ProviderSessionOptions? session = null) =>
        new(name, new RealtimeProviderOptions { Endpoint = _server.Endpoint, Model = "gpt-realtime", ApiKey = "sk-test", Voice = "marin" },
            TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, session);

    /// <summary>Looks for a pause from budget-2 s after connecting and rotates regardless at budget-0.3 s.</summary>
    private static ProviderSessionOptions ShortBudget(int verbatimTurns = 12, int seconds = 4) => new()
    {
        Budget = TimeSpan.FromSeconds(seconds),
        SafetyMargin = TimeSpan.FromSeconds(2),
        ForceMargin = TimeSpan.FromMilliseconds(300),
        BoundaryQuiet = TimeSpan.FromMilliseconds(100),
        VerbatimTurns = verbatimTurns,
        CondensedTurnChars = 40,
    };

    private static ProviderFailoverOptions Failover(int failuresBeforeFailover = 2) => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(3),
        InitialBackoff = TimeSpan.FromMilliseconds(20),
        MaxBackoff = TimeSpan.FromMilliseconds(100),
        FailuresBeforeFailover = failuresBeforeFailover,
        StallTimeout = TimeSpan.FromSeconds(30),
    };

    private static byte[] Tone(int frames) => TestSupport.Tone.Pcm16(frames * AudioFormat.SamplesPerFrame, 3000, 200, 24000);

    /// <summary>A candidate frame that says which one it is (its first two samples), so order and loss can be read at the server.</summary>
    private static byte[] Numbered(int index)
    {
        var pcm = new byte[AudioFormat.FrameBytes];
        BitConverter.TryWriteBytes(pcm.AsSpan(0, 4), index + 1);
        return pcm;
    }

    private static int[] FrameNumbers(FakeRealtimeConnection c)
    {
        byte[] bytes;
        lock (c.ReceivedAudio) bytes = c.ReceivedAudio.ToArray();
        return Enumerable.Range(0, bytes.Length / AudioFormat.FrameBytes).Select(i => BitConverter.ToInt32(bytes, i * AudioFormat.FrameBytes) - 1).ToArray();
    }

    private static string[] Items(FakeRealtimeConnection c) =>
        c.OfType("conversation.item.create").Select(e => $"{(string?)e["item"]!["role"]}: {(string?)e["item"]!["content"]![0]!["text"]}").ToArray();

    [Fact]
    public async Task Planned_rotation_at_a_pause_replays_recent_turns_verbatim_older_condensed_with_the_continuation_note()
    {
        const string name = "openai-rot-planned";
        using var errors = new CounterProbe("voice_provider_errors", "provider");
        using var rotations = new CounterProbe("voice_provider_rotations", "reason");
        _server.SessionCap = TimeSpan.FromSeconds(8); // the real cap is further than the budget: this rotation is planned
        var conversation = new List<Turn>
        {
            new(ParticipantRole.Agent, "Welcome! Tell me about a system you built that you are proud of, and why.", T0, T0.AddSeconds(4)),
            new(ParticipantRole.Candidate, "I built a payment ledger that reconciled forty million entries a day without double counting.", T0.AddSeconds(5), T0.AddSeconds(20)),
            new(ParticipantRole.Agent, "How did you make it never double count?", T0.AddSeconds(21), T0.AddSeconds(23)),
            new(ParticipantRole.Candidate, "Idempotency keys per entry and an append-only log.", T0.AddSeconds(24), T0.AddSeconds(40)),
        };
        var events = new EventCollector();
        var settings = new ProviderSettings(name, Voice: "cedar", Instructions: "You interview for a backend role. Be brief.");
        await using var link = new ProviderLink(new VoiceProviderRegistry([Adapter(name, ShortBudget(verbatimTurns: 2))]), Failover(), TimeProvider.System,
            "s-rot-planned", settings, null, () => { lock (conversation) return conversation.ToArray(); }, new RealtimeAdapterTests.RecordingEvents(events, conversation));

        link.Start();
        var first = await _server.NextConnectionAsync();
        await events.WaitFor(() => events.CountLog($"connected {name} attempt=1 replayed=4") == 1, "the first connection, replaying 4 turns");
        await events.WaitFor(() => first.Count("conversation.item.create") == 3, "the replay at the first session");
        // Every replay keeps to the context budget (here: two turns verbatim); only a rotation adds the continuation note.
        Assert.Equal("system: Earlier in this interview (2 turns, condensed):\nInterviewer: Welcome! Tell me about a system you bui…\nCandidate: I built a payment ledger that reconcile…",
            Items(first)[0]);
        await first.HeardAsync("We sharded it by account.");
        await first.SpeakAsync(Tone(5), "Why by account?");
        await events.WaitFor(() => events.Turns.Count == 2, "one more exchange on the first session");

        var second = await _server.NextConnectionAsync(); // the pause after the answer is the boundary
        await events.WaitFor(() => events.CountLog($"rotated {name} planned verbatim=2 condensed=4") == 1, "the planned rotation");
        await first.Closed.Task.WaitAsync(TimeSpan.FromSeconds(5)); // the old session is closed by the client, not expired by the server
        Assert.False(first.Expired.Task.IsCompleted);

        // What the fresh session received: the same instructions and voice, then the context, then the last two turns word for word.
        var update = Assert.Single(second.OfType("session.update"))["session"]!;
        var firstUpdate = Assert.Single(first.OfType("session.update"))["session"]!;
        Assert.Equal("You interview for a backend role. Be brief.", (string?)update["instructions"]);
        Assert.Equal("cedar", (string?)update["audio"]!["output"]!["voice"]);
        Assert.Equal(firstUpdate.ToJsonString(), update.ToJsonString());
        var items = Items(second);
        output.WriteLine("The fresh session received:\n" + string.Join("\n", items));
        Assert.Equal(3, items.Length);
        Assert.StartsWith($"system: {ProviderRotation.ContinuationNote}\nEarlier in this interview (4 turns, condensed):\n", items[0]);
        Assert.Contains("Interviewer: Welcome! Tell me about a system you bui…", items[0]);
        Assert.Contains("Candidate: I built a payment ledger that reconcile…", items[0]);
        Assert.Contains("Candidate: Idempotency keys per entry and an appen…", items[0]);
        Assert.Contains("\nInterviewer: How did you make it never double count?\n", items[0]); // short enough to stay whole
        Assert.Equal(["user: We sharded it by account.", "assistant: Why by account?"], items[1..]);

        // The conversation goes on in the new session; nothing was a failure.
        await second.HeardAsync("Accounts never span shards.");
        await second.SpeakAsync(Tone(3), "And rebalancing?");
        await events.WaitFor(() => events.Turns.Count == 4, "the next exchange on the fresh session");
        Assert.Equal(0, events.CountLog("failed"));
        Assert.Equal(0, errors[name]);
        Assert.Equal(1, rotations["planned"]);
        Assert.True(link.IsConnected);
    }

    [Fact]
    public async Task Unplanned_session_expired_reconnects_with_the_replay_without_counting_a_failure_or_failing_over()
    {
        const string name = "openai-rot-expired";
        using var errors = new CounterProbe("voice_provider_errors", "provider");
        _server.SessionCap = TimeSpan.FromSeconds(3); // the link has no budget for this provider: nothing planned, the server's cap comes first
        var conversation = new List<Turn>();
        var events = new EventCollector();
        var registry = new VoiceProviderRegistry([Adapter(name), Adapter("grok-rot-expired")]);
        await using var link = new ProviderLink(registry, Failover(failuresBeforeFailover: 1), TimeProvider.System, "s-rot-expired",
            new ProviderSettings(name, Secondary: "grok-rot-expired"), null, () => { lock (conversation) return conversation.ToArray(); },
            new RealtimeAdapterTests.RecordingEvents(events, conversation));

        link.Start();
        var first = await _server.NextConnectionAsync();
        await events.WaitFor(() => events.CountLog($"connected {name} attempt=1") == 1, "the first connection");
        await first.HeardAsync("I prefer boring technology.");
        await first.SpeakAsync(Tone(2), "Why boring?");
        await events.WaitFor(() => events.Turns.Count == 2, "an exchange before the cap");

        await first.Expired.Task.WaitAsync(TimeSpan.FromSeconds(5)); // the server's error event and close 1001, mid-conversation
        var second = await _server.NextConnectionAsync();
        await events.WaitFor(() => events.CountLog($"rotated {name} expired verbatim=2 condensed=0") == 1, "the recovery");
        await events.WaitFor(() => second.Count("conversation.item.create") == 3, "the replay at the fresh session");

        var items = Items(second);
        Assert.Equal([$"system: {ProviderRotation.ContinuationNote}", "user: I prefer boring technology.", "assistant: Why boring?"], items);
        Assert.Equal(0, events.CountLog("failed")); // with failover after one failure, a counted failure would have failed over
        Assert.Equal(0, events.CountLog("failover"));
        Assert.Equal(name, link.ActiveProvider);
        Assert.Equal(0, errors[name]); // the expiry error event is not an error event of the session either
        Assert.Empty(events.Errors);

        Assert.True(link.TrySendAudio(new AudioFrame(1, DateTime.UtcNow.Ticks, Numbered(0))));
        await events.WaitFor(() => second.ReceivedAudio.Length == AudioFormat.FrameBytes, "audio on the fresh session");
    }

    [Fact]
    public async Task A_due_rotation_waits_for_the_answer_to_end_and_no_agent_or_candidate_frame_is_lost_or_duplicated()
    {
        const string name = "openai-rot-answer";
        _server.SessionCap = TimeSpan.FromSeconds(12);
        var conversation = new List<Turn>();
        var events = new EventCollector();
        var budget = ShortBudget(seconds: 8);
        budget.SafetyMargin = TimeSpan.FromSeconds(4); // looks from 4 s, forced at 7.7 s: room for a slow machine
        await using var link = new ProviderLink(new VoiceProviderRegistry([Adapter(name, budget)]), Failover(), TimeProvider.System,
            "s-rot-answer", new ProviderSettings(name), null, () => { lock (conversation) return conversation.ToArray(); }, new RealtimeAdapterTests.RecordingEvents(events, conversation));

        link.Start();
        var first = await _server.NextConnectionAsync();
        await events.WaitFor(() => events.CountLog($"connected {name}") == 1, "the first connection");
        var clock = Stopwatch.StartNew();

        // The candidate's microphone streams throughout (silence: the server's VAD hears no speech), numbered frame by frame.
        using var stopMic = new CancellationTokenSource();
        var sent = 0;
        var mic = Task.Run(async () =>
        {
            while (!stopMic.IsCancellationRequested)
            {
                if (link.TrySendAudio(new AudioFrame(sent, DateTime.UtcNow.Ticks, Numbered(sent)))) sent++;
                await Task.Delay(AudioFormat.FrameMilliseconds);
            }
        });

        // An answer from 3 s to about 4.5 s: it starts before the rotation is due (4 s) and is still going when it is (forced at 7.7 s).
        await Task.Delay(TimeSpan.FromMilliseconds(3000));
        var answerStarted = clock.Elapsed;
        await first.HeardAsync("Here is my answer.");
        await first.ResponseCreatedAsync("resp_1");
        var answer = Tone(75); // 1.5 s of audio, sent in 20 ms deltas at real time
        for (var i = 0; i < 75; i++)
        {
            await first.AudioDeltasAsync("resp_1", "item_a", answer[(i * AudioFormat.FrameBytes)..((i + 1) * AudioFormat.FrameBytes)], AudioFormat.FrameBytes);
            var due = answerStarted + TimeSpan.FromMilliseconds((i + 1) * AudioFormat.FrameMilliseconds) - clock.Elapsed; // on schedule, not drifting
            if (due > TimeSpan.Zero) await Task.Delay(due);
        }
        await first.SendAsync(new JsonObject { ["type"] = "response.output_audio.done", ["response_id"] = "resp_1", ["item_id"] = "item_a", ["output_index"] = 0, ["content_index"] = 0 });
        var answerEnded = clock.Elapsed;
        Assert.Empty(_server.Connections.Skip(1)); // due since 4 s, yet no second session while the agent speaks
        await first.SendAsync(new JsonObject { ["type"] = "response.output_audio_transcript.done", ["response_id"] = "resp_1", ["item_id"] = "item_a", ["output_index"] = 0, ["content_index"] = 0, ["transcript"] = "A long answer." });
        await first.ResponseDoneAsync("resp_1", "completed");

        var second = await _server.NextConnectionAsync();
        await events.WaitFor(() => events.CountLog($"rotated {name} planned") == 1, "the rotation after the answer");
        output.WriteLine($"answer ended at {answerEnded.TotalMilliseconds:0} ms, second session opened {(second.AcceptedAtUtc - first.AcceptedAtUtc).TotalMilliseconds:0} ms after the first");
        Assert.Equal(75, events.Audio.Count); // every frame of the answer, once, from the old session

        // The next answer comes from the fresh session; the sink's frames are the two answers back to back, in order.
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        await second.SpeakAsync(Tone(10), "Next question.", chunkBytes: AudioFormat.FrameBytes);
        await events.WaitFor(() => events.Audio.Count == 85, "the fresh session's answer");
        stopMic.Cancel();
        await mic;
        await Task.Delay(TimeSpan.FromMilliseconds(200)); // the last frames in flight to the server

        var agent = events.Audio.ToArray();
        Assert.Equal([.. answer, .. Tone(10)], agent.SelectMany(f => f.Pcm).ToArray()); // nothing lost, nothing twice, nothing inserted
        Assert.Equal(Enumerable.Range(1, 75).Select(i => (long)i), agent.Take(75).Select(f => f.Sequence)); // each session numbers its own; the relay renumbers per session
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), agent.Skip(75).Select(f => f.Sequence));

        // Candidate audio went to exactly one session at a time: the old one got 0..k-1, the new one k..n-1, none dropped.
        var toFirst = FrameNumbers(first);
        var toSecond = FrameNumbers(second);
        Assert.Equal(Enumerable.Range(0, toFirst.Length), toFirst);
        Assert.Equal(Enumerable.Range(toFirst.Length, toSecond.Length), toSecond);
        Assert.Equal(sent, toFirst.Length + toSecond.Length);
        var gap = second.AudioArrivals.First() + (second.AcceptedAtUtc - first.AcceptedAtUtc) - first.AudioArrivals.Last();
        var arrivals = first.AudioArrivals.ToArray();
        var worst = arrivals.Zip(arrivals.Skip(1), (a, b) => b - a).DefaultIfEmpty().Max();
        output.WriteLine($"candidate frames: {toFirst.Length} to the old session, {toSecond.Length} to the new; switch gap at the server {gap.TotalMilliseconds:0.0} ms "
            + $"(one frame is 20 ms; the widest gap between two frames within the old session, i.e. this machine's own jitter, was {worst.TotalMilliseconds:0.0} ms)");
    }
}
