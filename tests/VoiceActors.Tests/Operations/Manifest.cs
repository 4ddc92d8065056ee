using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace VoiceActors.Tests.Operations;

/// <summary>One Kubernetes object parsed from YAML, navigated by dotted paths (<c>spec.template.spec.containers[0].name</c>).</summary>
public sealed class Manifest(IDictionary<object, object> root)
{
    public string Kind => (string)At("kind")!;
    public string Name => (string)At("metadata.name")!;

    public static IReadOnlyList<Manifest> LoadAll(string path)
    {
        var deserializer = new DeserializerBuilder().Build();
        var parser = new Parser(new StringReader(File.ReadAllText(path)));
        parser.Consume<StreamStart>();
        var documents = new List<Manifest>();
        while (parser.Accept<DocumentStart>(out _))
            documents.Add(new Manifest(deserializer.Deserialize<Dictionary<object, object>>(parser)));
        return documents;
    }

    public object? At(string path)
    {
        object? node = root;
        foreach (var segment in path.Split('.'))
        {
            var name = segment;
            int? index = null;
            var bracket = segment.IndexOf('[');
            if (bracket >= 0)
            {
                name = segment[..bracket];
                index = int.Parse(segment[(bracket + 1)..^1]);
            }
            node = node is IDictionary<object, object> map && map.TryGetValue(name, out var child) ? child : null;
            if (index is { } i) node = node is IList<object> list && i < list.Count ? list[i] : null;
            if (node is null) return null;
        }
        return node;
    }

    public string? Text(string path) => At(path)?.ToString();

    /// <summary>A mapping whose keys contain dots (labels, annotations), read by exact key.</summary>
    public IDictionary<object, object> Map(string path) =>
        At(path) as IDictionary<object, object> ?? throw new Xunit.Sdk.XunitException($"{Kind}/{Name}: no mapping at {path}");

    public int Int(string path) => int.Parse(Text(path) ?? throw new Xunit.Sdk.XunitException($"{Kind}/{Name}: no {path}"));

    public IEnumerable<Manifest> Items(string path) =>
        (At(path) as IList<object> ?? []).Select(o => new Manifest((IDictionary<object, object>)o));
}
