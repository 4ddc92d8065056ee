using VoiceActors.LiveKit;
using VoiceActors.LoadTest.LiveKit;
using VoiceActors.Tests.Regions;

namespace VoiceActors.Tests.EndToEnd;

/// <summary>
/// Issue #16's silo crash under a live LiveKit session: two silo processes on real Redis, the SFU a process of its own, a
/// candidate on the official @livekit/rtc-node in a real room answered by the simulated provider through the hosting silo's
/// bridge. That silo is killed with SIGKILL (its bridge dies with it): the candidate must stay connected as the same participant
/// while the agent re-joins from the survivor and speaks again.
/// </summary>
public sealed class LiveKitSiloCrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Region = "eu";
    private LiveKitCluster _cluster = null!;
    private CandidateDriver _candidate = null!;

    public async Task InitializeAsync()
    {
        _cluster = await LiveKitCluster.StartAsync([Region], (Region, 10), (Region, 10));
        _candidate = await CandidateDriver.StartAsync(JsonLineProcess.MediaDir, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _candidate.DisposeAsync();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task Killing_the_silo_of_a_live_livekit_session_leaves_the_candidate_in_the_room_and_the_agent_rejoins_from_a_survivor()
    {
        var fleet = _cluster.Fleet;
        var created = await LiveKitCluster.CreateAsync(fleet.Silos[0], null, "cand-crash");
        var id = created.GetProperty("sessionId").GetString()!;
        var room = SessionIds.RoomName(id);
        var url = created.GetProperty("livekit").GetProperty("url").GetString()!;
        Assert.Equal(_cluster.Sfu(Region).Url, url); // the configured LiveKit, not a silo's own stand-in
        var candidate = LiveKitIdentities.Candidate("cand-crash");
        var agent = LiveKitIdentities.Agent(id);
        var events = new DriverLog(_candidate);
        _candidate.Join(id, url, created.GetProperty("candidateToken").GetString()!, speechMs: 1000, silenceMs: 2000, offsetMs: 0);

        // The agent joins from the hosting silo's bridge once the candidate is in; its voice reaches the candidate.
        var first = await events.WaitAsync<CandidateSubscribed>(e => e.Identity == agent, "the agent's track at the candidate", 60);
        await events.WaitAsync<CandidateVoice>(e => e.ParticipantSid == first.ParticipantSid, "the agent's voice at the candidate", 60);
        var before = await _cluster.Rooms(Region).ListParticipantsAsync(room);
        var candidateSid = Assert.Single(before, p => p.Identity == candidate).Sid;
        Assert.Equal(first.ParticipantSid, Assert.Single(before, p => p.Identity == agent).Sid);
        var doomed = fleet.SiloOf(await fleet.SnapshotAsync(id));
        var survivor = Assert.Single(fleet.Silos, s => s != doomed);

        var killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var clock = Stopwatch.StartNew();
        doomed.Process.KillHard(); // the silo and its bridge, as a crashed machine

        // The survivor re-activates the session and its bridge joins with the same identity: a new participant, a new track, voice again.
        var again = await events.WaitAsync<CandidateSubscribed>(e => e.Identity == agent && e.ParticipantSid != first.ParticipantSid,
            "the re-joined agent's track at the candidate", 45);
        var rejoinedMs = clock.ElapsedMilliseconds;
        var resumed = await events.WaitAsync<CandidateVoice>(e => e.ParticipantSid == again.ParticipantSid, "the re-joined agent's voice at the candidate", 45);

        Assert.Equal(survivor, fleet.SiloOf(await fleet.SnapshotAsync(id)));
        var after = await _cluster.Rooms(Region).ListParticipantsAsync(room);
        Assert.Equal(candidateSid, Assert.Single(after, p => p.Identity == candidate).Sid); // the same participant: it never left
        Assert.Equal(again.ParticipantSid, Assert.Single(after, p => p.Identity == agent).Sid); // one agent: the stale one is gone
        Assert.DoesNotContain(events.All, e => e is CandidateFailed); // the candidate's client never reported Disconnected
        var sfu = _cluster.Sfu(Region);
        Assert.DoesNotContain(sfu.ParticipantEvents(candidate), e => e.GetProperty("ev").GetString() == "participant_left");
        // LiveKit's duplicate-identity rule evicted the dead silo's agent when the survivor's joined (within the signal grace).
        var evicted = Assert.Single(sfu.ParticipantEvents(agent), e => e.GetProperty("ev").GetString() == "participant_left");
        Assert.Equal(first.ParticipantSid, evicted.GetProperty("sid").GetString());
        Assert.Equal("duplicate_identity", evicted.GetProperty("reason").GetString());

        // The session's own record: resumed on the survivor, still Active, the agent's re-join seen through the webhooks.
        var session = await fleet.SnapshotAsync(id);
        Assert.Equal(SessionStatus.Active, session.Status);
        var timeline = await fleet.Client.GetGrain<IInterviewSessionGrain>(id).GetTimeline(SiloFleet.Tenant);
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.Resumed);

        // The agent-voice gap at the candidate: the last agent audio heard before the kill to the first heard from the re-joined agent.
        var lastBefore = events.All.OfType<CandidateVoice>().Where(v => v.ParticipantSid == first.ParticipantSid && v.StartMs <= killedAt).Max(v => v.EndMs);
        var heardGap = resumed.StartMs - lastBefore;
        var fromKill = resumed.StartMs - killedAt;
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[..3];
        output.WriteLine($"silo kill under a live LiveKit session: agent re-joined {rejoinedMs} ms after SIGKILL; agent voice resumed at the candidate " +
            $"{fromKill} ms after SIGKILL; agent-voice gap heard {heardGap} ms (last agent audio before → first after; includes waiting for the " +
            $"candidate's next 1 s utterance and the provider's ~725 ms answer delay); load average {string.Join(' ', load)} on {Environment.ProcessorCount} cores (contended)");
        Assert.True(fromKill > 0 && heardGap >= fromKill);
    }

    /// <summary>Every event of the candidate driver, kept, so a test can wait for one and later look at all of them.</summary>
    private sealed class DriverLog(CandidateDriver driver)
    {
        private readonly List<DriverEvent> _all = [];

        public IReadOnlyList<DriverEvent> All => _all;

        public async Task<T> WaitAsync<T>(Func<T, bool> match, string what, int seconds) where T : DriverEvent
        {
            if (_all.OfType<T>().FirstOrDefault(match) is { } seen) return seen;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
            try
            {
                while (true)
                {
                    var e = await driver.Events.ReadAsync(timeout.Token);
                    _all.Add(e);
                    if (e is CandidateFailed f) Assert.Fail($"the candidate failed while waiting for {what}: {f.Message}; stderr: {driver.Stderr}");
                    if (e is T t && match(t)) return t;
                }
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"timed out after {seconds} s waiting for {what}; events: {string.Join(", ", _all.TakeLast(20))}; stderr: {driver.Stderr}");
                throw;
            }
        }
    }
}
