using VoiceActors.LiveKit;
using System.Text.Json.Nodes;
using VoiceActors.Media;
using VoiceActors.Providers;

namespace VoiceActors.Tests.Providers;

/// <summary>The real OpenAI Realtime adapter (official client) against a local server speaking the same protocol.</summary>
public sealed class RealtimeAdapterTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);
    private FakeRealtimeServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeRealtimeServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private RealtimeVoiceProvider Adapter(string name, Uri endpoint, string key = "sk-test") =>
        new(name, new RealtimeProviderOptions { Endpoint = endpoint, Model = "gpt-realtime", ApiKey = key, Voice = "marin" },
            TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

    private static ProviderFailoverOptions FastFailover() => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(3),
        InitialBackoff = TimeSpan.FromMilliseconds(20),
        MaxBackoff = TimeSpan.FromMilliseconds(100),
        FailuresBeforeFailover = 2,
        ErrorThreshold = 3,
        ErrorWindow = TimeSpan.FromSeconds(30),
        StallTimeout = TimeSpan.FromMilliseconds(400),
    };

    private static byte[] Tone(int bytes, short amplitude = 3000) => TestSupport.Tone.Pcm16(bytes / 2, amplitude, 200, 24000);

    [Fact]
    public async Task Adapter_configures_the_session_replays_the_conversation_streams_audio_and_reports_transcripts()
    {
        var events = new EventCollector();
        Turn[] conversation =
        [
            new(ParticipantRole.Agent, "Tell me about yourself.", T0, T0.AddSeconds(2)),
            new(ParticipantRole.Candidate, "I build voice systems.", T0.AddSeconds(3), T0.AddSeconds(5)),
        ];
        var request = new ProviderConnectRequest("s1", new ProviderSettings("openai", Instructions: "Be brief."), conversation);

        await using var connection = await Adapter("openai", _server.Endpoint).ConnectAsync(request, events, CancellationToken.None);
        var server = await _server.NextConnectionAsync();

        Assert.Contains("/realtime", server.PathAndQuery);
        Assert.Contains("model=gpt-realtime", server.PathAndQuery);
        Assert.Equal("Bearer sk-test", server.Authorization);

        var frame = Tone(AudioFormat.FrameBytes);
        for (var i = 0; i < 5; i++) Assert.True(connection.TrySendAudio(new AudioFrame(i, DateTime.UtcNow.Ticks, frame)));
        await events.WaitFor(() => events.AudioSentToProvider == 5, "five frames handed to the provider");
        await events.WaitFor(() => server.ReceivedAudio.Length == 5 * AudioFormat.FrameBytes, "the server to receive the audio");

        var update = Assert.Single(server.OfType("session.update"));
        Assert.Equal("realtime", (string?)update["session"]!["type"]);
        Assert.Equal("Be brief.", (string?)update["session"]!["instructions"]);
        Assert.Equal(24000, (int?)update["session"]!["audio"]!["input"]!["format"]!["rate"]);
        var items = server.OfType("conversation.item.create").Select(e => e["item"]!).ToArray();
        Assert.Equal(new[] { "assistant", "user" }, items.Select(i => (string)i["role"]!).ToArray());
        Assert.Contains("I build voice systems.", items[1].ToJsonString());
        Assert.Equal(frame, server.ReceivedAudio.ToArray()[..AudioFormat.FrameBytes]);

        await server.HeardAsync("I led the migration.");
        await server.SpeakAsync(Tone(AudioFormat.FrameBytes * 3 + 480), "What was the hardest part?", chunkBytes: 700);
        await events.WaitFor(() => events.Turns.Count == 2, "both transcript turns");

        var audio = events.Audio.ToArray();
        Assert.Equal([960, 960, 960, 480], audio.Select(a => a.Pcm.Length).ToArray()); // re-cut into 20 ms frames, remainder flushed
        Assert.Equal([1L, 2, 3, 4], audio.Select(a => a.Sequence).ToArray());
        var turns = events.Turns.ToArray();
        Assert.Equal((ParticipantRole.Candidate, "I led the migration."), (turns[0].Speaker, turns[0].Text));
        Assert.Equal((ParticipantRole.Agent, "What was the hardest part?"), (turns[1].Speaker, turns[1].Text));
    }

    [Fact]
    public async Task Refused_connect_fails_over_to_the_secondary_and_counts_the_errors()
    {
        using var errors = new CounterProbe("voice_provider_errors", "provider");
        var closedPort = new Uri($"http://127.0.0.1:{FreePort.Next()}/v1"); // nobody listens: connection refused
        var registry = new VoiceProviderRegistry([Adapter("openai", closedPort), Adapter("grok", _server.Endpoint, key: "xai-test")]);
        var events = new EventCollector();
        await using var link = new ProviderLink(registry, FastFailover(), TimeProvider.System, "s-refused",
            new ProviderSettings("openai", Secondary: "grok"), null, () => Conversation.Empty, events);

        link.Start();
        await events.WaitFor(() => events.CountLog("connected grok") == 1, "a connection to the secondary");

        Assert.Equal(2, events.CountLog("failed openai"));
        Assert.Equal(1, events.CountLog("failover openai->grok"));
        Assert.Equal("grok", link.ActiveProvider);
        Assert.Equal(2, errors["openai"]);
        Assert.Equal("Bearer xai-test", (await _server.NextConnectionAsync()).Authorization); // the secondary's own key
    }

    [Fact]
    public async Task Mid_stream_drop_reconnects_and_replays_the_conversation_so_far()
    {
        var registry = new VoiceProviderRegistry([Adapter("openai", _server.Endpoint)]);
        var events = new EventCollector();
        var conversation = new List<Turn>();
        await using var link = new ProviderLink(registry, FastFailover(), TimeProvider.System, "s-drop",
            new ProviderSettings("openai"), null, () => { lock (conversation) return conversation.ToArray(); },
            new RecordingEvents(events, conversation));

        link.Start();
        var first = await _server.NextConnectionAsync();
        await events.WaitFor(() => events.CountLog("connected openai attempt=1 replayed=0") == 1, "the first connection");
        await first.HeardAsync("My answer.");
        await first.SpeakAsync(Tone(AudioFormat.FrameBytes), "Next question?");
        await events.WaitFor(() => events.Turns.Count == 2, "the first exchange");

        first.Drop();
        var second = await _server.NextConnectionAsync();
        await events.WaitFor(() => events.CountLog("connected openai attempt=2 replayed=2") == 1, "a reconnect that replays both turns");

        Assert.Contains(events.Log, l => l.StartsWith("failed openai 1: ", StringComparison.Ordinal));
        await events.WaitFor(() => second.Count("conversation.item.create") == 2, "the replayed items at the server");
        var replayed = second.OfType("conversation.item.create").Select(e => e["item"]!.ToJsonString()).ToArray();
        Assert.Contains("My answer.", replayed[0]);
        Assert.Contains("Next question?", replayed[1]);
        Assert.True(link.TrySendAudio(new AudioFrame(1, DateTime.UtcNow.Ticks, Tone(AudioFormat.FrameBytes))));
        await events.WaitFor(() => second.ReceivedAudio.Length == AudioFormat.FrameBytes, "audio flowing on the new connection");
    }

    [Fact]
    public async Task Error_events_are_counted_and_a_burst_of_them_replaces_the_connection()
    {
        using var errors = new CounterProbe("voice_provider_errors", "provider");
        var registry = new VoiceProviderRegistry([Adapter("openai", _server.Endpoint)]);
        var events = new EventCollector();
        await using var link = new ProviderLink(registry, FastFailover(), TimeProvider.System, "s-errors",
            new ProviderSettings("openai"), null, () => Conversation.Empty, events);

        link.Start();
        var first = await _server.NextConnectionAsync();
        await events.WaitFor(() => events.CountLog("connected openai") == 1, "the first connection");
        await first.ErrorAsync("rate_limit_exceeded", "slow down");
        await events.WaitFor(() => events.Errors.Count == 1, "one error event");
        Assert.True(link.IsConnected); // one error is not a failure
        await first.ErrorAsync("server_error", "oops");
        await first.ErrorAsync("server_error", "oops again");

        await events.WaitFor(() => events.CountLog("connected openai attempt=2") == 1, "a fresh connection after the burst");
        Assert.Equal(["openai:rate_limit_exceeded", "openai:server_error", "openai:server_error"], events.Errors.ToArray());
        Assert.Contains(events.Log, l => l.Contains("3 error events", StringComparison.Ordinal));
        Assert.Equal(4, errors["openai"]); // three error events and the connection they brought down
    }

    [Fact]
    public async Task Stalled_provider_is_detected_and_the_conversation_moves_to_a_new_connection()
    {
        var registry = new VoiceProviderRegistry([Adapter("openai", _server.Endpoint)]);
        var events = new EventCollector();
        await using var link = new ProviderLink(registry, FastFailover(), TimeProvider.System, "s-stall",
            new ProviderSettings("openai"), null, () => Conversation.Empty, events);

        link.Start();
        await _server.NextConnectionAsync(); // this one accepts audio and never answers
        await events.WaitFor(() => events.CountLog("connected openai") == 1, "the first connection");
        link.ExpectResponse();

        await events.WaitFor(() => events.CountLog("connected openai attempt=2") == 1, "a reconnect after the stall");
        Assert.Contains(events.Log, l => l.Contains("stalled", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_answer_in_time_is_not_a_stall()
    {
        var registry = new VoiceProviderRegistry([Adapter("openai", _server.Endpoint)]);
        var events = new EventCollector();
        await using var link = new ProviderLink(registry, FastFailover(), TimeProvider.System, "s-nostall",
            new ProviderSettings("openai"), null, () => Conversation.Empty, events);

        link.Start();
        var server = await _server.NextConnectionAsync();
        await events.WaitFor(() => events.CountLog("connected openai") == 1, "the connection");
        link.ExpectResponse();
        await server.SpeakAsync(Tone(AudioFormat.FrameBytes), "Go on.");
        await events.WaitFor(() => events.Turns.Count == 1, "the answer");
        await Task.Delay(TimeSpan.FromMilliseconds(800)); // twice the stall timeout: a real socket, so real time must pass to prove a negative

        Assert.Equal(0, events.CountLog("failed"));
        Assert.True(link.IsConnected);
    }

    [Fact]
    public async Task Speech_started_mid_answer_is_reported_and_interrupt_sends_response_cancel_and_truncates_at_the_audio_handed_out()
    {
        var events = new EventCollector();
        await using var connection = await Adapter("openai", _server.Endpoint)
            .ConnectAsync(new ProviderConnectRequest("s-barge", new ProviderSettings("openai"), []), events, CancellationToken.None);
        var server = await _server.NextConnectionAsync();

        // Before any answer: an interrupt has nothing to cancel or truncate, and sends nothing.
        await server.SpeechStartedAsync(500);
        await events.WaitFor(() => events.SpeechStarts == 1, "the first speech onset");
        connection.Interrupt();

        await server.ResponseCreatedAsync("resp_1");
        var pcm = Tone(AudioFormat.FrameBytes * 10); // 200 ms of answer, still going
        await server.AudioDeltasAsync("resp_1", "item_a", pcm, chunkBytes: 1920);
        await events.WaitFor(() => events.Audio.Count == 10, "200 ms of the answer handed out");

        await server.SpeechStartedAsync(1800); // the candidate talks over the agent
        await events.WaitFor(() => events.SpeechStarts == 2, "speech_started mid-answer reaching the events");
        connection.Interrupt(); // what the relay does on a barge-in
        await events.WaitFor(() => server.Count("conversation.item.truncate") == 1, "the truncate");

        var sent = server.Received.Select(e => (string)e["type"]!).Where(t => t is "response.cancel" or "conversation.item.truncate").ToArray();
        Assert.Equal(["response.cancel", "conversation.item.truncate"], sent); // once each, cancel first, as OpenAI's guide has it
        var truncate = Assert.Single(server.OfType("conversation.item.truncate"));
        Assert.Equal("item_a", (string?)truncate["item_id"]);
        Assert.Equal(0, (int?)truncate["content_index"]);
        Assert.Equal(200, (int?)truncate["audio_end_ms"]); // exactly the audio handed out

        // The server's late deltas of the cut item are dropped; a cancel that lost the race is no error; the next answer plays.
        await server.AudioDeltasAsync("resp_1", "item_a", Tone(AudioFormat.FrameBytes * 5), chunkBytes: 1920);
        await server.ErrorAsync("response_cancel_not_active", "Cancellation failed: no active response found");
        await server.ResponseDoneAsync("resp_1", "cancelled");
        await server.ResponseCreatedAsync("resp_2");
        await server.AudioDeltasAsync("resp_2", "item_b", Tone(AudioFormat.FrameBytes * 3), chunkBytes: 960);
        await events.WaitFor(() => events.Audio.Count == 13, "the next answer");
        Assert.Equal(13, events.Audio.Count);
        Assert.Empty(events.Errors);
        Assert.Equal(1, server.Count("response.cancel"));
    }

    /// <summary>Keeps the conversation as the relay does, so the link can replay it.</summary>
    internal sealed class RecordingEvents(EventCollector inner, List<Turn> conversation) : IVoiceEvents
    {
        public void OnProviderAudio(AudioFrame frame) => inner.OnProviderAudio(frame);
        public void OnCandidateSpeechStarted(string provider) => inner.OnCandidateSpeechStarted(provider);
        public void OnTranscript(Turn turn) { lock (conversation) conversation.Add(turn); inner.OnTranscript(turn); }
        public void OnProviderError(string provider, string code, string message) => inner.OnProviderError(provider, code, message);
        public void OnCandidateAudioSent(long sentAtUtcTicks, long handedOffUtcTicks) => inner.OnCandidateAudioSent(sentAtUtcTicks, handedOffUtcTicks);
        public void OnProviderConnected(string provider, int attempt, int replayedTurns) => inner.OnProviderConnected(provider, attempt, replayedTurns);
        public void OnProviderFailed(string provider, string reason, int consecutiveFailures) => inner.OnProviderFailed(provider, reason, consecutiveFailures);
        public void OnProviderFailover(string from, string to, string reason) => inner.OnProviderFailover(from, to, reason);
        public void OnProviderRotated(string provider, string reason, int verbatimTurns, int condensedTurns) => inner.OnProviderRotated(provider, reason, verbatimTurns, condensedTurns);
    }
}
