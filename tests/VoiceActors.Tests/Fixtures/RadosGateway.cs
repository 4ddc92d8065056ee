using Amazon.S3;
using Amazon.S3.Model;

namespace VoiceActors.Tests.Fixtures;

/// <summary>
/// The tests' real S3 server (<see cref="RadosGatewayProcess"/>), started once for the tests that share it, with the object
/// reads the tests assert on.
/// </summary>
public sealed class RadosGateway : IAsyncLifetime
{
    public const string AccessKey = RadosGatewayProcess.AccessKey;
    public const string SecretKey = RadosGatewayProcess.SecretKey;
    public const string Bucket = "recordings-test";

    private readonly RadosGatewayProcess _gateway = new();

    public int Port => _gateway.Port;

    public string ServiceUrl => _gateway.ServiceUrl;

    public AmazonS3Client Client => _gateway.Client;

    /// <summary>The silo settings that point recordings at this gateway (with a master key pair, to exercise rotation).</summary>
    public Dictionary<string, string?> Settings() => _gateway.Settings(Bucket);

    public Task InitializeAsync() => _gateway.StartAsync();

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

    public async Task DisposeAsync() => await _gateway.DisposeAsync();
}
