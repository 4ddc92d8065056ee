using VoiceActors.LiveKit;

namespace VoiceActors.Tests.LiveKit;

/// <summary>Our tokens against LiveKit's official Node SDK (livekit-server-sdk TokenVerifier / AccessToken), both directions.</summary>
public sealed class TokenInteropTests
{
    private const string Key = "APIinterop";
    private const string Secret = "interop-secret-long-enough-for-hs256-0123456789";
    private readonly LiveKitTokens _tokens = new(Key, Secret, TimeProvider.System); // node checks against the real clock

    [Fact]
    public async Task Participant_tokens_verify_with_the_official_TokenVerifier_and_grants_read_back()
    {
        var candidate = await Verify(_tokens.ForParticipant("interview-1", "candidate-c1", ParticipantRole.Candidate, TimeSpan.FromMinutes(10), name: "Ada"));
        Assert.Equal("candidate-c1", candidate.GetProperty("sub").GetString());
        Assert.Equal(Key, candidate.GetProperty("iss").GetString());
        Assert.Equal("Ada", candidate.GetProperty("name").GetString());
        Assert.Equal("standard", candidate.GetProperty("kind").GetString());
        var video = candidate.GetProperty("video");
        Assert.Equal("interview-1", video.GetProperty("room").GetString());
        Assert.True(video.GetProperty("roomJoin").GetBoolean());
        Assert.True(video.GetProperty("canPublish").GetBoolean());
        Assert.Equal(["microphone"], video.GetProperty("canPublishSources").EnumerateArray().Select(e => e.GetString()));
        Assert.False(video.TryGetProperty("roomAdmin", out _));
        var ttl = candidate.GetProperty("exp").GetInt64() - candidate.GetProperty("nbf").GetInt64();
        Assert.Equal(600, ttl);

        var agent = await Verify(_tokens.ForParticipant("interview-1", "agent-s1", ParticipantRole.Agent, TimeSpan.FromMinutes(10)));
        Assert.Equal("agent", agent.GetProperty("kind").GetString());
        Assert.True(agent.GetProperty("video").GetProperty("agent").GetBoolean());
        Assert.False(agent.GetProperty("video").TryGetProperty("hidden", out var hidden) && hidden.GetBoolean()); // a hidden agent would be inaudible

        var observer = await Verify(_tokens.ForParticipant("interview-1", "observer-o1", ParticipantRole.Observer, TimeSpan.FromMinutes(10)));
        Assert.False(observer.GetProperty("video").GetProperty("canPublish").GetBoolean());
        Assert.False(observer.GetProperty("video").GetProperty("canPublishData").GetBoolean());
        Assert.True(observer.GetProperty("video").GetProperty("canSubscribe").GetBoolean());
        Assert.Equal("observer", observer.GetProperty("attributes").GetProperty(LiveKitTokens.RoleAttribute).GetString());
    }

    [Fact]
    public async Task Official_verifier_refuses_our_token_under_another_secret_or_key()
    {
        var token = _tokens.ForParticipant("interview-1", "candidate-c1", ParticipantRole.Candidate, TimeSpan.FromMinutes(10));
        var (okSecret, _) = await NodeTools.TryRunAsync("verify", new { apiKey = Key, apiSecret = Secret + "x", token });
        var (okKey, _) = await NodeTools.TryRunAsync("verify", new { apiKey = "otherkey", apiSecret = Secret, token });
        Assert.False(okSecret);
        Assert.False(okKey);
    }

    [Fact]
    public async Task Tokens_minted_by_the_official_AccessToken_verify_with_ours()
    {
        var minted = await NodeTools.RunAsync("mint", new
        {
            apiKey = Key, apiSecret = Secret, identity = "agent-s9", ttl = "15m", kind = "agent",
            grant = new { roomJoin = true, room = "interview-9", canPublish = true, canSubscribe = true, agent = true },
        });
        var claims = _tokens.Verify(minted.GetProperty("token").GetString());
        Assert.Equal("agent-s9", claims.Identity);
        Assert.Equal("interview-9", claims.Room);
        Assert.Equal(ParticipantRole.Agent, claims.Role);
        Assert.InRange(claims.ExpiresAt - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(15.1));

        var foreign = await NodeTools.RunAsync("mint", new { apiKey = Key, apiSecret = Secret + "other", identity = "x", grant = new { roomJoin = true, room = "r" } });
        Assert.Equal(LiveKitTokenError.BadSignature,
            Assert.Throws<LiveKitTokenException>(() => _tokens.Verify(foreign.GetProperty("token").GetString())).Error);
    }

    private static Task<JsonElement> Verify(string token) => NodeTools.RunAsync("verify", new { apiKey = Key, apiSecret = Secret, token });
}
