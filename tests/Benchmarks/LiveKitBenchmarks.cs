using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using VoiceActors.LiveKit;
using VoiceActors.Sessions;

namespace VoiceActors.Benchmarks;

/// <summary>
/// Token minting (every interview create hands the candidate a LiveKit token) and webhook verification (every LiveKit
/// webhook: verify the signed Authorization token, then that its sha256 claim is the body's hash).
/// </summary>
[BenchmarkCategory("livekit")]
public class LiveKitBenchmarks
{
    private readonly LiveKitTokens _tokens = new(LiveKitOptions.DevelopmentApiKey, LiveKitOptions.DevelopmentApiSecret, TimeProvider.System);
    private byte[] _body = null!;
    private string _authorization = null!;

    [GlobalSetup]
    public void Setup()
    {
        _body = Encoding.UTF8.GetBytes("""{"event":"participant_joined","room":{"name":"interview-0123456789abcdef0123456789abcdef"},"participant":{"identity":"candidate-1"},"id":"EV_1","createdAt":"1764061200"}""");
        _authorization = _tokens.ForWebhook(_body);
    }

    [Benchmark(Description = "Mint a candidate token")]
    public string MintCandidateToken() =>
        _tokens.ForParticipant("interview-0123456789abcdef0123456789abcdef", "candidate-1", ParticipantRole.Candidate, TimeSpan.FromHours(2));

    [Benchmark(Description = "Verify a webhook (token + body hash)")]
    public bool VerifyWebhook()
    {
        var claims = _tokens.Verify(_authorization);
        return claims.Sha256 == Convert.ToBase64String(SHA256.HashData(_body));
    }
}
