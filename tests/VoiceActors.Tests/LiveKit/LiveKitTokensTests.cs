using System.Text;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using VoiceActors.LiveKit;

namespace VoiceActors.Tests.LiveKit;

public sealed class LiveKitTokensTests
{
    private const string Key = "APIkey123";
    private const string Secret = "a-secret-that-is-comfortably-longer-than-32-bytes";
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero));

    private LiveKitTokens Tokens() => new(Key, Secret, _clock);

    [Theory]
    [InlineData(ParticipantRole.Candidate)]
    [InlineData(ParticipantRole.Agent)]
    [InlineData(ParticipantRole.Observer)]
    public void Minted_token_verifies_with_its_identity_room_and_role(ParticipantRole role)
    {
        var token = Tokens().ForParticipant("interview-abc", "someone-1", role, TimeSpan.FromMinutes(30), name: "Ada", metadata: "{\"x\":1}");
        var claims = Tokens().Verify(token);
        Assert.Equal("someone-1", claims.Identity);
        Assert.Equal("interview-abc", claims.Room);
        Assert.Equal(role, claims.Role);
        Assert.Equal(Key, claims.Issuer);
        Assert.Equal("Ada", claims.Name);
        Assert.Equal("{\"x\":1}", claims.Metadata);
        Assert.Equal(_clock.GetUtcNow().AddMinutes(30), claims.ExpiresAt);
        Assert.Equal(role == ParticipantRole.Agent ? "agent" : "standard", claims.Kind);
        Assert.True(claims.Video.RoomJoin);
        Assert.Equal(role != ParticipantRole.Observer, claims.Video.CanPublish);
        Assert.True(claims.Video.CanSubscribe);
        Assert.Null(claims.Video.RoomAdmin); // a participant can never administer rooms
        Assert.Null(claims.Video.RoomCreate);
    }

    [Fact]
    public void Token_expires_after_its_ttl_plus_the_leeway()
    {
        var token = Tokens().ForParticipant("r", "c", ParticipantRole.Candidate, TimeSpan.FromMinutes(5));
        _clock.Advance(TimeSpan.FromMinutes(5) + LiveKitTokens.Leeway - TimeSpan.FromSeconds(1));
        Tokens().Verify(token);
        _clock.Advance(TimeSpan.FromSeconds(2));
        var e = Assert.Throws<LiveKitTokenException>(() => Tokens().Verify(token));
        Assert.Equal(LiveKitTokenError.Expired, e.Error);
    }

    [Fact]
    public void Token_from_the_future_is_not_valid_yet()
    {
        var ahead = new FakeTimeProvider(_clock.GetUtcNow().AddMinutes(1)); // a minter whose clock runs a minute fast
        var token = new LiveKitTokens(Key, Secret, ahead).ForParticipant("r", "c", ParticipantRole.Candidate, TimeSpan.FromMinutes(5));
        Assert.Equal(LiveKitTokenError.NotYetValid, Assert.Throws<LiveKitTokenException>(() => Tokens().Verify(token)).Error);
    }

    [Fact]
    public void Token_of_another_key_or_secret_or_tampered_is_refused_without_echoing_it()
    {
        var token = Tokens().ForParticipant("r", "c", ParticipantRole.Observer, TimeSpan.FromMinutes(5));
        var wrongKey = Assert.Throws<LiveKitTokenException>(() => new LiveKitTokens("otherkey", Secret, _clock).Verify(token));
        Assert.Equal(LiveKitTokenError.WrongKey, wrongKey.Error);
        var wrongSecret = Assert.Throws<LiveKitTokenException>(() => new LiveKitTokens(Key, Secret + "x", _clock).Verify(token));
        Assert.Equal(LiveKitTokenError.BadSignature, wrongSecret.Error);
        Assert.DoesNotContain(token, wrongSecret.Message);

        // An observer promoting itself to publisher: the payload changes, the signature no longer matches.
        var parts = token.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1])).Replace("\"canPublish\":false", "\"canPublish\":true");
        var forged = $"{parts[0]}.{Base64UrlEncoder.Encode(payload)}.{parts[2]}";
        Assert.Equal(LiveKitTokenError.BadSignature, Assert.Throws<LiveKitTokenException>(() => Tokens().Verify(forged)).Error);
    }

    [Fact]
    public void Unsigned_missing_and_garbage_tokens_are_refused()
    {
        var header = Base64UrlEncoder.Encode("{\"alg\":\"none\",\"typ\":\"JWT\"}");
        var body = Base64UrlEncoder.Encode($"{{\"iss\":\"{Key}\",\"sub\":\"x\",\"exp\":{_clock.GetUtcNow().AddHours(1).ToUnixTimeSeconds()}}}");
        Assert.Throws<LiveKitTokenException>(() => Tokens().Verify($"{header}.{body}."));
        Assert.Equal(LiveKitTokenError.Missing, Assert.Throws<LiveKitTokenException>(() => Tokens().Verify("")).Error);
        Assert.Equal(LiveKitTokenError.Malformed, Assert.Throws<LiveKitTokenException>(() => Tokens().Verify("not.a.jwt")).Error);
    }

    [Fact]
    public void Secrets_shorter_than_256_bits_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new LiveKitTokens(Key, "secret", _clock));
        Assert.Contains("32 bytes", e.Message);
        Assert.Contains("32 bytes", string.Join(" ", LiveKitOptionsValidator.Check(new LiveKitOptions { ApiSecret = "short" }, "LiveKit")));
    }

    [Fact]
    public void Ttl_is_capped_and_must_be_positive()
    {
        var claims = Tokens().Verify(Tokens().ForParticipant("r", "c", ParticipantRole.Candidate, TimeSpan.FromDays(3)));
        Assert.Equal(_clock.GetUtcNow() + LiveKitTokens.MaxTtl, claims.ExpiresAt);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokens().ForParticipant("r", "c", ParticipantRole.Candidate, TimeSpan.Zero));
    }

    [Fact]
    public void Webhook_token_carries_the_base64_sha256_of_the_exact_body()
    {
        var body = "{\"event\":\"room_started\"}"u8.ToArray();
        var claims = Tokens().Verify(Tokens().ForWebhook(body));
        Assert.Equal(Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(body)), claims.Sha256);
        Assert.Equal("", claims.Identity);
        Assert.Null(claims.Role);
    }
}
