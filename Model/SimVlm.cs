using System.Text.Json.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Model;

// SimVLM (Wang et al., arXiv 2108.10904), read top to bottom: configuration, convolution stem,
// attention, MLP, encoder and decoder blocks, the model, and its FLOP count. The encoder reads the
// prefix (image patch tokens followed by prefix text) with full attention; the decoder generates the
// suffix causally and cross-attends to the encoder. Pre-LayerNorm, GELU, tied text embeddings.

/// <summary>Model shape. Presets: <see cref="Tiny"/>, <see cref="Base"/>, <see cref="Large"/>, <see cref="Huge"/>; any other shape is a custom one.</summary>
public sealed record SimVlmConfig
{
    /// <summary>Square input image side in pixels.</summary>
    public int ImageSize { get; init; } = 224;

    /// <summary>Pixels per side of one image token: the conv stem downsamples by this much (8 or 16).</summary>
    public int PatchSize { get; init; } = 16;

    /// <summary>Channels of the ResNet stem convolution; stage i's bottleneck is StemWidth * 2^i wide.</summary>
    public int StemWidth { get; init; } = 64;

    /// <summary>The narrowest stem allowed; see <see cref="Validate"/>.</summary>
    public const int MinimumStemWidth = 16;

    /// <summary>Bottleneck blocks in each of the first three ResNet stages (ResNet-50: 3, 4, 6).</summary>
    public int[] StageDepths { get; init; } = [3, 4, 6];

    /// <summary>Transformer width (d_model).</summary>
    public int Width { get; init; } = 768;

    public int EncoderLayers { get; init; } = 12;

    public int DecoderLayers { get; init; } = 12;

    public int Heads { get; init; } = 12;

    public int MlpWidth { get; init; } = 3072;

    /// <summary>Text vocabulary size, special tokens included (see <see cref="SpecialTokens"/>).</summary>
    public int VocabSize { get; init; } = 32_000;

    /// <summary>Longest text (prefix plus suffix, end-of-text included) in tokens.</summary>
    public int MaxTextLength { get; init; } = 64;

    /// <summary>
    /// Dropout on attention weights, residual branches and embeddings during training. The paper pretrains
    /// without dropout and fine-tunes with 0.1, so every preset is 0 and fine-tuning sets it.
    /// </summary>
    public double Dropout { get; init; } = 0.0;

    /// <summary>
    /// Drop-path (stochastic depth) rate during training: each residual branch of the conv stage's bottleneck
    /// blocks and of the encoder's layers is skipped for a whole sample with this probability (the same rate
    /// in every layer). The paper fine-tunes with 0.1 and pretrains without; 0 builds no drop-path at all.
    /// </summary>
    public double DropPath { get; init; } = 0.0;

    /// <summary>Image tokens per image: the patch grid, flattened.</summary>
    [JsonIgnore]
    public int ImageTokens => (ImageSize / PatchSize) * (ImageSize / PatchSize);

    /// <summary>The paper's Base size (ViT-Base transformer, 224x224 images, 16x16 patches, 196 image tokens).</summary>
    public static SimVlmConfig Base => new();

    /// <summary>The paper's Large size (ViT-Large transformer: 24 layers, width 1024, MLP 4096, 16 heads), Base's conv stage and images.</summary>
    public static SimVlmConfig Large => new() { Width = 1024, EncoderLayers = 24, DecoderLayers = 24, Heads = 16, MlpWidth = 4096 };

    /// <summary>The paper's Huge size (ViT-Huge transformer: 32 layers, width 1280, MLP 5120, 16 heads), Base's conv stage and images.</summary>
    public static SimVlmConfig Huge => new() { Width = 1280, EncoderLayers = 32, DecoderLayers = 32, Heads = 16, MlpWidth = 5120 };

    /// <summary>The preset names <see cref="Preset"/> accepts, smallest first.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["tiny", "base", "large", "huge"];

    /// <summary>Small enough to train on two CPU cores in minutes: 64x64 images, 16 image tokens, width 256.</summary>
    public static SimVlmConfig Tiny => new()
    {
        ImageSize = 64,
        PatchSize = 16,
        StemWidth = 16,
        StageDepths = [1, 1, 1],
        Width = 256,
        EncoderLayers = 2,
        DecoderLayers = 2,
        Heads = 4,
        MlpWidth = 1024,
        VocabSize = 8_192,
        MaxTextLength = 32,
        Dropout = 0.0,
    };

    public static SimVlmConfig Preset(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        "base" => Base,
        "large" => Large,
        "huge" => Huge,
        _ => throw new ArgumentException($"Unknown preset '{name}'; expected {string.Join(", ", PresetNames.Select(n => $"'{n}'"))}.", nameof(name)),
    };

    /// <summary>Throws when the shape cannot be built, naming the offending setting.</summary>
    public SimVlmConfig Validate()
    {
        if (PatchSize is not (8 or 16)) throw new ArgumentException($"PatchSize must be 8 or 16 (the stem's downsampling), not {PatchSize}.");
        if (ImageSize <= 0 || ImageSize % PatchSize != 0) throw new ArgumentException($"ImageSize {ImageSize} must be a positive multiple of PatchSize {PatchSize}.");
        if (StageDepths.Length != 3 || StageDepths.Any(d => d < 1)) throw new ArgumentException("StageDepths must list three positive block counts.");
        // libtorch 2.10's CPU convolution sporadically returns NaN input gradients for 3x3 kernels
        // over fewer than 16 channels (seen here: 4 channels about 1 in 4 backward passes, 8 channels
        // about 1 in 30, 16 and more never); the narrowest stage is StemWidth wide.
        if (StemWidth < MinimumStemWidth) throw new ArgumentException($"StemWidth {StemWidth} must be at least {MinimumStemWidth}.");
        if (Width < 1 || Heads < 1 || Width % Heads != 0) throw new ArgumentException($"Width {Width} must be a positive multiple of Heads {Heads}.");
        if (EncoderLayers < 1 || DecoderLayers < 1 || MlpWidth < 1) throw new ArgumentException("Layer counts and MlpWidth must be positive.");
        if (VocabSize <= SpecialTokens.Count) throw new ArgumentException($"VocabSize {VocabSize} leaves no room beyond the {SpecialTokens.Count} special tokens.");
        if (MaxTextLength < 2) throw new ArgumentException("MaxTextLength must allow at least a prefix token and a suffix token.");
        if (Dropout is < 0 or >= 1) throw new ArgumentException($"Dropout {Dropout} must lie in [0, 1).");
        if (DropPath is < 0 or >= 1) throw new ArgumentException($"DropPath {DropPath} must lie in [0, 1).");
        return this;
    }

    /// <summary>GroupNorm groups for a channel count: 32 as in BiT's ResNets, fewer for narrow layers.</summary>
    internal static int GroupNormGroups(int channels)
    {
        int groups = Math.Min(32, channels);
        while (channels % groups != 0) groups--;
        return groups;
    }
}

/// <summary>Token ids every vocabulary reserves at its start.</summary>
public static class SpecialTokens
{
    public const int Pad = 0;
    /// <summary>Start of the decoder's input: the decoder predicts the first suffix token from it.</summary>
    public const int Bos = 1;
    /// <summary>End of text: the last target of every text.</summary>
    public const int Eos = 2;
    public const int Unknown = 3;
    public const int Count = 4;
}

/// <summary>
/// A ResNet bottleneck block (1x1 reduce, 3x3, 1x1 expand, projection shortcut where the shape
/// changes). GroupNorm stands in for BatchNorm, as in BiT, so that no sample's features depend on
/// the other samples in its batch (which PrefixLM's masking guarantees would otherwise break).
/// </summary>
internal sealed class BottleneckBlock : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d reduce, spatial, expand;
    private readonly GroupNorm reduceNorm, spatialNorm, expandNorm;
    private readonly Sequential? shortcut;
    private readonly double dropPath;

    public BottleneckBlock(int inChannels, int width, int stride, double dropPath = 0) : base(nameof(BottleneckBlock))
    {
        this.dropPath = dropPath;
        int outChannels = width * 4;
        reduce = nn.Conv2d(inChannels, width, 1, bias: false);
        reduceNorm = nn.GroupNorm(SimVlmConfig.GroupNormGroups(width), width);
        spatial = nn.Conv2d(width, width, 3, stride: stride, padding: 1, bias: false);
        spatialNorm = nn.GroupNorm(SimVlmConfig.GroupNormGroups(width), width);
        expand = nn.Conv2d(width, outChannels, 1, bias: false);
        expandNorm = nn.GroupNorm(SimVlmConfig.GroupNormGroups(outChannels), outChannels);
        if (stride != 1 || inChannels != outChannels)
            shortcut = nn.Sequential(
                nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false),
                nn.GroupNorm(SimVlmConfig.GroupNormGroups(outChannels), outChannels));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(reduceNorm.call(reduce.call(x)));
        h = nn.functional.relu(spatialNorm.call(spatial.call(h)));
        h = expandNorm.call(expand.call(h));
        if (training && dropPath > 0) h = h * StochasticDepth.KeepFactors(h.shape[0], dropPath, h).view(-1, 1, 1, 1);
        var residual = shortcut is null ? x : shortcut.call(x);
        return nn.functional.relu(h.Plus(residual)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Image embedding: the ResNet stem and its first three stages turn an image into a grid of patch
/// features (the paper prefers this to ViT's linear patch projection); a 1x1 convolution maps them to
/// the transformer width, and learned position embeddings are added per grid cell.
/// </summary>
internal sealed class ConvStem : nn.Module<Tensor, Tensor>
{
    private readonly Sequential stages;
    private readonly Conv2d toWidth;
    private readonly Parameter positions;

    public ConvStem(SimVlmConfig config) : base(nameof(ConvStem))
    {
        // Here rather than when the assembly loads: it loads libtorch, which a process that never convolves need not do.
        Devices.NnpackSwitch.EnsureOff();
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("stem_conv", nn.Conv2d(3, config.StemWidth, 7, stride: 2, padding: 3, bias: false)),
            ("stem_norm", nn.GroupNorm(SimVlmConfig.GroupNormGroups(config.StemWidth), config.StemWidth)),
            ("stem_relu", nn.ReLU()),
        };
        // Downsampling: stem conv 2, stage 2 and stage 3 by 2 each (8); the stem's max pool doubles it to 16.
        if (config.PatchSize == 16) layers.Add(("stem_pool", nn.MaxPool2d(3, stride: 2, padding: 1)));
        int channels = config.StemWidth;
        for (int stage = 0; stage < 3; stage++)
        {
            int width = config.StemWidth << stage;
            for (int block = 0; block < config.StageDepths[stage]; block++)
            {
                int stride = block == 0 && stage > 0 ? 2 : 1;
                layers.Add(($"stage{stage + 1}_block{block + 1}", new BottleneckBlock(channels, width, stride, config.DropPath)));
                channels = width * 4;
            }
        }
        stages = nn.Sequential(layers);
        toWidth = nn.Conv2d(channels, config.Width, 1);
        // Constructors run outside any dispose scope: a temporary passed inline could be finalized during the call that reads it.
        using var initial = randn(1, config.ImageTokens, config.Width);
        positions = nn.Parameter(initial.Times(0.02));
        RegisterComponents();
    }

    /// <summary>(batch, 3, H, W) normalised pixels to (batch, image tokens, width).</summary>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var grid = toWidth.call(stages.call(images));          // (B, width, H/P, W/P)
        var tokens = grid.flatten(2).transpose(1, 2);           // (B, H/P * W/P, width), row-major patches
        return tokens.Plus(positions).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Multi-head attention through scaled_dot_product_attention, with a boolean mask (true = may attend) where padding
/// needs one; with no mask, or causal alone, libtorch may choose its fused kernels (flash or memory-efficient on CUDA).
/// </summary>
internal sealed class Attention : nn.Module
{
    private readonly Linear query, keyValue, output;
    private readonly Dropout residualDropout;
    private readonly int heads;
    private readonly double dropout;

    public Attention(SimVlmConfig config) : base(nameof(Attention))
    {
        heads = config.Heads;
        dropout = config.Dropout;
        query = nn.Linear(config.Width, config.Width);
        keyValue = nn.Linear(config.Width, 2 * config.Width);
        output = nn.Linear(config.Width, config.Width);
        residualDropout = nn.Dropout(config.Dropout);
        RegisterComponents();
    }

    /// <param name="x">(Nq, width) the real query tokens, packed (see <see cref="TokenLayout"/>).</param>
    /// <param name="queries">Where the query tokens sit in their (B, Lq) rectangle.</param>
    /// <param name="context">(Nk, width) the real key and value tokens, packed: x itself for self-attention.</param>
    /// <param name="keys">Where the context tokens sit in their (B, Lk) rectangle.</param>
    /// <param name="mask">Boolean, broadcastable to (B, heads, Lq, Lk); null lets every query see every key (before <paramref name="causal"/>).</param>
    /// <param name="causal">Each query sees only keys at its own position or before.</param>
    /// <returns>(Nq, width), packed like x.</returns>
    public Tensor Forward(Tensor x, TokenLayout queries, Tensor context, TokenLayout keys, Tensor? mask, bool causal = false)
    {
        using var scope = NewDisposeScope();
        long batch = queries.Batch, width = x.shape[1];
        // Projections on the real tokens only; attention itself needs the per-sample rectangles.
        var q = queries.Unpack(query.call(x)).view(batch, queries.Length, heads, -1).transpose(1, 2);
        var (k, v) = KeysValues(context, keys);
        var attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask, p: training ? dropout : 0.0, is_casual: causal);
        var merged = queries.Pack(attended.transpose(1, 2).reshape(batch, queries.Length, width));
        return residualDropout.call(output.call(merged)).MoveToOuterDisposeScope();
    }

    /// <summary>Keys and values of packed context tokens, each (B, heads, Lk, head width), zeros at padding.</summary>
    public (Tensor Keys, Tensor Values) KeysValues(Tensor context, TokenLayout keys)
    {
        var kv = keys.Unpack(keyValue.call(context)).view(keys.Batch, keys.Length, 2, heads, -1);
        return (kv.select(2, 0).transpose(1, 2), kv.select(2, 1).transpose(1, 2));
    }

    /// <summary>Keys and values of one new token per row: (R, width) to (R, heads, 1, head width) each.</summary>
    public (Tensor Keys, Tensor Values) NewKeysValues(Tensor x)
    {
        var kv = keyValue.call(x).view(x.shape[0], 2, heads, 1, -1);
        return (kv.select(1, 0), kv.select(1, 1));
    }

    /// <summary>One query per row, (R, width), against cached keys and values (R, heads, L, head width); a null mask lets every key be seen.</summary>
    public Tensor AttendOne(Tensor x, Tensor keys, Tensor values, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long rows = x.shape[0], width = x.shape[1];
        var q = query.call(x).view(rows, heads, 1, -1);
        var attended = nn.functional.scaled_dot_product_attention(q, keys, values, attn_mask: mask, p: training ? dropout : 0.0);
        return residualDropout.call(output.call(attended.reshape(rows, width))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The real tokens of a padded (B, L) batch. Per-sample PrefixLM splits leave a large share of every
/// rectangle as padding; the position-wise layers (norms, projections, MLPs) run on the real tokens
/// packed into (N, ...) rows, and only attention, which needs each sample's tokens together, sees the
/// rectangle. Packing keeps row-major order: sample by sample, position by position.
/// </summary>
internal sealed class TokenLayout
{
    /// <summary>(N,) flat indices of the real positions in the (B * L) rectangle.</summary>
    private readonly Tensor real;

    public long Batch { get; }
    public long Length { get; }

    /// <param name="valid">(B, L) true where a position is real.</param>
    public TokenLayout(Tensor valid)
    {
        Batch = valid.shape[0];
        Length = valid.shape[1];
        real = valid.flatten().nonzero().squeeze(1);
        HasPadding = real.shape[0] < Batch * Length;
    }

    /// <summary>Whether any position of the rectangle is padding; known on the host, as nonzero's count is.</summary>
    public bool HasPadding { get; }

    /// <summary>(B, L, ...) to (N, ...): the real positions only.</summary>
    public Tensor Pack(Tensor padded) => padded.flatten(0, 1).index_select(0, real);

    /// <summary>(N,) the sample each packed token belongs to.</summary>
    public Tensor SampleOfToken()
    {
        using var length = Length.ToScalar();
        return real.div(length, rounding_mode: RoundingMode.floor);
    }

    /// <summary>(N, C) to (B, L, C), zeros at padding.</summary>
    public Tensor Unpack(Tensor packed) =>
        zeros(Batch * Length, packed.shape[1], dtype: packed.dtype, device: packed.device).index_copy(0, real, packed).view(Batch, Length, -1);
}

internal sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear expand, contract;
    private readonly Dropout dropout;

    public Mlp(SimVlmConfig config) : base(nameof(Mlp))
    {
        expand = nn.Linear(config.Width, config.MlpWidth);
        contract = nn.Linear(config.MlpWidth, config.Width);
        dropout = nn.Dropout(config.Dropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return dropout.call(contract.call(nn.functional.gelu(expand.call(x)))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Stochastic depth (Huang et al. 2016): a residual branch is dropped for whole samples and the kept ones
/// are scaled up, so that the expected output is unchanged and evaluation needs no rescaling.
/// </summary>
internal static class StochasticDepth
{
    /// <summary>(B,) per sample 0 (dropped, with probability <paramref name="rate"/>) or 1/(1 - rate), on <paramref name="like"/>'s device and type.</summary>
    public static Tensor KeepFactors(long batch, double rate, Tensor like)
    {
        using var keep = KeptScalars.Of(1 - rate);
        return empty(batch, dtype: ScalarType.Float32, device: like.device).bernoulli_(1 - rate).div_(keep).to(like.dtype);
    }

    /// <summary>A packed (N, width) branch output with each sample's tokens dropped or scaled together.</summary>
    public static Tensor Apply(Tensor branch, TokenLayout layout, double rate) =>
        branch * KeepFactors(layout.Batch, rate, branch).index_select(0, layout.SampleOfToken()).unsqueeze(1);
}

/// <summary>Encoder layer: full (bidirectional) self-attention over the prefix, then the MLP; pre-LayerNorm.</summary>
internal sealed class EncoderBlock : nn.Module
{
    private readonly LayerNorm attentionNorm, mlpNorm;
    private readonly Attention selfAttention;
    private readonly Mlp mlp;
    private readonly double dropPath;

    public EncoderBlock(SimVlmConfig config) : base(nameof(EncoderBlock))
    {
        dropPath = config.DropPath;
        attentionNorm = nn.LayerNorm(config.Width);
        selfAttention = new Attention(config);
        mlpNorm = nn.LayerNorm(config.Width);
        mlp = new Mlp(config);
        RegisterComponents();
    }

    /// <param name="x">(N, width) the prefix's real tokens, packed as <paramref name="layout"/> says.</param>
    public Tensor Forward(Tensor x, TokenLayout layout, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var normed = attentionNorm.call(x);
        var attended = selfAttention.Forward(normed, layout, normed, layout, mask);
        x = x.Plus(training && dropPath > 0 ? StochasticDepth.Apply(attended, layout, dropPath) : attended);
        var transformed = mlp.call(mlpNorm.call(x));
        x = x.Plus(training && dropPath > 0 ? StochasticDepth.Apply(transformed, layout, dropPath) : transformed);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>Decoder layer: causal self-attention over the suffix, cross-attention to the encoded prefix, MLP.</summary>
internal sealed class DecoderBlock : nn.Module
{
    private readonly LayerNorm selfNorm, crossNorm, mlpNorm;
    private readonly Attention selfAttention, crossAttention;
    private readonly Mlp mlp;

    public DecoderBlock(SimVlmConfig config) : base(nameof(DecoderBlock))
    {
        selfNorm = nn.LayerNorm(config.Width);
        selfAttention = new Attention(config);
        crossNorm = nn.LayerNorm(config.Width);
        crossAttention = new Attention(config);
        mlpNorm = nn.LayerNorm(config.Width);
        mlp = new Mlp(config);
        RegisterComponents();
    }

    /// <param name="x">(N, width) the suffix's real tokens, packed as <paramref name="layout"/> says.</param>
    /// <param name="selfMask">The self-attention's mask; null attends causally alone, which is the same wherever every
    /// sample's real positions come first (a real query's earlier keys are then all real) and lets the fused kernels run.</param>
    /// <param name="encoded">(Nk, width) the encoded prefix, packed as <paramref name="encodedLayout"/> says.</param>
    /// <param name="crossMask">Null when the encoded prefix has no padding.</param>
    public Tensor Forward(Tensor x, TokenLayout layout, Tensor? selfMask, Tensor encoded, TokenLayout encodedLayout, Tensor? crossMask)
    {
        using var scope = NewDisposeScope();
        var normed = selfNorm.call(x);
        x = x.Plus(selfAttention.Forward(normed, layout, normed, layout, selfMask, causal: selfMask is null));
        x = x.Plus(crossAttention.Forward(crossNorm.call(x), layout, encoded, encodedLayout, crossMask));
        x = x.Plus(mlp.call(mlpNorm.call(x)));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>The cross-attention's keys and values of the encoded prefix: what decoding computes once per image.</summary>
    public (Tensor Keys, Tensor Values) CrossKeysValues(Tensor encoded, TokenLayout encodedLayout) =>
        crossAttention.KeysValues(encoded, encodedLayout);

    /// <summary>
    /// One decoding step, the same computation as <see cref="Forward"/> for the last position:
    /// <paramref name="x"/> (R, width) is one new token per row; its self-attention keys and values
    /// join the layer's cache, and it attends to all of the cache (every earlier token of its row).
    /// </summary>
    public Tensor Step(Tensor x, DecoderLayerCache cache)
    {
        using var scope = NewDisposeScope();
        var normed = selfNorm.call(x);
        var (keys, values) = selfAttention.NewKeysValues(normed);
        cache.Append(keys, values);
        x = x.Plus(selfAttention.AttendOne(normed, cache.SelfKeys!, cache.SelfValues!, mask: null));
        x = x.Plus(crossAttention.AttendOne(crossNorm.call(x), cache.CrossKeys, cache.CrossValues, cache.CrossMask));
        x = x.Plus(mlp.call(mlpNorm.call(x)));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>The SimVLM encoder-decoder.</summary>
public sealed class SimVlmModel : nn.Module
{
    private readonly ConvStem imageEmbedding;
    private readonly Embedding tokenEmbedding;
    private readonly Parameter textPositions;
    private readonly Dropout embeddingDropout;
    private readonly ModuleList<EncoderBlock> encoder;
    private readonly LayerNorm encoderNorm;
    private readonly ModuleList<DecoderBlock> decoder;
    private readonly LayerNorm decoderNorm;

    public SimVlmConfig Config { get; }

    /// <summary>
    /// Attention without masks where none is needed (no padding; the decoder's self-attention causal alone), so that
    /// libtorch may choose its fused kernels; false builds every mask explicitly, as before, for the test that the two agree.
    /// </summary>
    internal bool FusedAttention { get; set; } = true;

    /// <param name="random">
    /// The stream the initial weights are drawn from (a trainer's own); null draws from libtorch's default
    /// generator, as a model whose weights are then loaded may.
    /// </param>
    public SimVlmModel(SimVlmConfig config, TorchRandomStream? random = null) : base(nameof(SimVlmModel))
    {
        Config = config.Validate();
        using var draws = random?.Enter() ?? TorchRandomStream.EnterDefault();
        imageEmbedding = new ConvStem(config);
        tokenEmbedding = nn.Embedding(config.VocabSize, config.Width, padding_idx: SpecialTokens.Pad);
        // One set of text positions for the whole text: the encoder's prefix takes 0..Tp-1 and the
        // decoder continues from there, so a token's position does not depend on where the split fell.
        using var initialPositions = randn(config.MaxTextLength, config.Width);
        textPositions = nn.Parameter(initialPositions.Times(0.02));
        embeddingDropout = nn.Dropout(config.Dropout);
        encoder = nn.ModuleList(Enumerable.Range(0, config.EncoderLayers).Select(_ => new EncoderBlock(config)).ToArray());
        encoderNorm = nn.LayerNorm(config.Width);
        decoder = nn.ModuleList(Enumerable.Range(0, config.DecoderLayers).Select(_ => new DecoderBlock(config)).ToArray());
        decoderNorm = nn.LayerNorm(config.Width);
        RegisterComponents();
        InitialiseWeights();
    }

    /// <summary>
    /// GPT-2's initialisation for the transformer (normal(0, 0.02) weights, zero biases), ResNet's
    /// for the convolutions (He normal, fan-out). Norm layers are set to identity explicitly:
    /// TorchSharp 0.107's GroupNorm allocates its affine parameters uninitialised.
    /// </summary>
    private void InitialiseWeights()
    {
        using var noGrad = no_grad();
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                    if (conv.bias is not null) nn.init.zeros_(conv.bias);
                    break;
                case GroupNorm norm:
                    nn.init.ones_(norm.weight);
                    if (norm.bias is not null) nn.init.zeros_(norm.bias);
                    break;
                case LayerNorm norm:
                    nn.init.ones_(norm.weight);
                    if (norm.bias is not null) nn.init.zeros_(norm.bias);
                    break;
                case Linear linear:
                    nn.init.normal_(linear.weight, 0, 0.02);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                    break;
                case Embedding embedding:
                    nn.init.normal_(embedding.weight, 0, 0.02);
                    using (var padRow = embedding.weight![SpecialTokens.Pad]) padRow.zero_();
                    break;
            }
        }
    }

    /// <summary>
    /// Encodes the prefix: image tokens (when <paramref name="images"/> is given) followed by the
    /// prefix text, all attending to each other. Returns the states (zeros at padding) and which of them are real.
    /// </summary>
    /// <param name="images">(B, 3, S, S) normalised pixels, or null for text-only samples.</param>
    /// <param name="prefixTokens">(B, Lp) token ids, padded with <see cref="SpecialTokens.Pad"/>.</param>
    /// <param name="prefixValid">(B, Lp) true where a token is real.</param>
    public (Tensor States, Tensor Valid) Encode(Tensor? images, Tensor prefixTokens, Tensor prefixValid)
    {
        using var scope = NewDisposeScope();
        var (states, layout, valid) = EncodePacked(images, prefixTokens, prefixValid);
        return (layout.Unpack(states).MoveToOuterDisposeScope(), valid.MoveToOuterDisposeScope());
    }

    /// <summary>The encoder's final (normed) states of the real prefix tokens, packed, with their layout and the (B, Lk) validity mask.</summary>
    private (Tensor States, TokenLayout Layout, Tensor Valid) EncodePacked(Tensor? images, Tensor prefixTokens, Tensor prefixValid)
    {
        long batch = prefixTokens.shape[0], textLength = prefixTokens.shape[1];
        var text = tokenEmbedding.call(prefixTokens).Plus(textPositions[..(int)textLength]);
        Tensor sequence = text, valid = prefixValid;
        if (images is not null)
        {
            var imageTokens = imageEmbedding.call(images);
            sequence = cat([imageTokens, text], 1);
            valid = cat([ones(batch, imageTokens.shape[1], dtype: ScalarType.Bool, device: prefixValid.device), prefixValid], 1);
        }
        var layout = new TokenLayout(valid);
        var x = embeddingDropout.call(layout.Pack(sequence));
        // Every query may see every real key: no mask at all where nothing is padding, so the fused kernels may run.
        var mask = layout.HasPadding || !FusedAttention ? valid.view(batch, 1, 1, -1) : null;
        foreach (var block in encoder) x = block.Forward(x, layout, mask);
        return (encoderNorm.call(x), layout, valid);
    }

    /// <summary>
    /// Decodes the suffix causally against the encoded prefix and returns next-token logits.
    /// </summary>
    /// <param name="encoded">(B, Lk, width) encoder states, as <see cref="Encode"/> returns them.</param>
    /// <param name="decoderInput">(B, Ls) the shifted suffix: BOS, then the suffix without its last token.</param>
    /// <param name="decoderPositions">(B, Ls) text positions of the tokens being predicted.</param>
    /// <param name="decoderValid">(B, Ls) true where a position is real; each row's real positions come first, padding after.</param>
    /// <returns>(B, Ls, vocabulary) logits; zeros at padding.</returns>
    public Tensor Decode(Tensor encoded, Tensor encodedValid, Tensor decoderInput, Tensor decoderPositions, Tensor decoderValid)
    {
        using var scope = NewDisposeScope();
        var encodedLayout = new TokenLayout(encodedValid);
        var layout = new TokenLayout(decoderValid);
        var states = DecoderStates(encodedLayout.Pack(encoded), encodedLayout, encodedValid, layout, decoderInput, decoderPositions, decoderValid);
        return layout.Unpack(OutputLogits(states)).MoveToOuterDisposeScope();
    }

    /// <summary>The decoder's final (normed) states of the real suffix positions, packed as <paramref name="layout"/> says: what the output layer reads.</summary>
    private Tensor DecoderStates(Tensor encoded, TokenLayout encodedLayout, Tensor encodedValid, TokenLayout layout, Tensor decoderInput, Tensor decoderPositions, Tensor decoderValid)
    {
        long batch = decoderInput.shape[0], length = decoderInput.shape[1];
        var x = embeddingDropout.call(tokenEmbedding.call(layout.Pack(decoderInput)).Plus(textPositions.index_select(0, layout.Pack(decoderPositions))));
        // The suffix's real positions come first, so causal attention alone never lets a real query see padding.
        var selfMask = FusedAttention ? null
            : ones(length, length, dtype: ScalarType.Bool, device: decoderInput.device).tril().unsqueeze(0).unsqueeze(0) & decoderValid.view(batch, 1, 1, -1);
        var crossMask = encodedLayout.HasPadding || !FusedAttention ? encodedValid.view(batch, 1, 1, -1) : null;
        foreach (var block in decoder) x = block.Forward(x, layout, selfMask, encoded, encodedLayout, crossMask);
        return decoderNorm.call(x);
    }

    /// <summary>
    /// The log-probability of each target token given the encoded prefix and the suffix before it: (B, Ls) float32, zeros at
    /// padding. What scoring a text needs from <see cref="Decode"/>, but only the real positions go through the output layer
    /// and the softmax over the vocabulary, which dominate a small model's decoding.
    /// </summary>
    /// <param name="targets">(B, Ls) the token each position predicts; any valid id at padding.</param>
    public Tensor TargetLogProbabilities(Tensor encoded, Tensor encodedValid, Tensor decoderInput, Tensor decoderPositions, Tensor decoderValid, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var encodedLayout = new TokenLayout(encodedValid);
        var layout = new TokenLayout(decoderValid);
        var states = DecoderStates(encodedLayout.Pack(encoded), encodedLayout, encodedValid, layout, decoderInput, decoderPositions, decoderValid);
        var logProbabilities = nn.functional.log_softmax(OutputLogits(states).to(ScalarType.Float32), 1);
        var picked = logProbabilities.gather(1, layout.Pack(targets).unsqueeze(1));
        return layout.Unpack(picked).squeeze(2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Starts incremental decoding against an encoded prefix: computes every decoder layer's
    /// cross-attention keys and values once; <see cref="DecodeStep"/> then adds one token per row.
    /// </summary>
    /// <param name="encoded">(R, Lk, width) encoder states, as <see cref="Encode"/> returns them.</param>
    public DecoderKeyValueCache StartDecoding(Tensor encoded, Tensor encodedValid)
    {
        using var scope = NewDisposeScope();
        var layout = new TokenLayout(encodedValid);
        var packed = layout.Pack(encoded);
        var crossMask = encodedValid.view(encodedValid.shape[0], 1, 1, -1);
        return new DecoderKeyValueCache(decoder.Select(block => block.CrossKeysValues(packed, layout)).ToArray(), crossMask);
    }

    /// <summary>
    /// Next-token logits (R, vocabulary) after one more token per row, reusing the cache: the same
    /// values as <see cref="Decode"/>'s last position over the whole text so far, in one position's work.
    /// </summary>
    /// <param name="tokens">(R,) the newest token of each row (BOS at the first step).</param>
    /// <param name="positions">(R,) their text positions.</param>
    public Tensor DecodeStep(DecoderKeyValueCache cache, Tensor tokens, Tensor positions)
    {
        using var scope = NewDisposeScope();
        var x = embeddingDropout.call(tokenEmbedding.call(tokens).Plus(textPositions.index_select(0, positions)));
        for (int layer = 0; layer < decoder.Count; layer++) x = decoder[layer].Step(x, cache.Layers[layer]);
        return OutputLogits(decoderNorm.call(x)).MoveToOuterDisposeScope();
    }

    /// <summary>Tied embeddings: the output projection is the transposed token embedding.</summary>
    private Tensor OutputLogits(Tensor states) => matmul(states, tokenEmbedding.weight!.t());

    /// <summary>Next-token logits for every suffix position of a PrefixLM batch: (B, Ls, vocabulary), zeros at padding.</summary>
    public Tensor Forward(PrefixLmBatch batch)
    {
        using var scope = NewDisposeScope();
        var (encoded, encodedLayout, valid) = EncodePacked(batch.Images, batch.PrefixTokens, batch.PrefixValid);
        var layout = new TokenLayout(batch.DecoderValid);
        var states = DecoderStates(encoded, encodedLayout, valid, layout, batch.DecoderInput, batch.DecoderPositions, batch.DecoderValid);
        return layout.Unpack(OutputLogits(states)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Summed cross-entropy over the batch's real suffix tokens, and how many there are. Only real
    /// positions go through the output layer (as through every position-wise layer): with per-sample
    /// splits the suffixes' lengths vary widely, and the vocabulary-wide projection of padding would be pure waste.
    /// </summary>
    public (Tensor SummedLoss, long Tokens) SuffixLoss(PrefixLmBatch batch)
    {
        using var scope = NewDisposeScope();
        var (encoded, encodedLayout, valid) = EncodePacked(batch.Images, batch.PrefixTokens, batch.PrefixValid);
        var layout = new TokenLayout(batch.DecoderValid);
        var states = DecoderStates(encoded, encodedLayout, valid, layout, batch.DecoderInput, batch.DecoderPositions, batch.DecoderValid);
        var loss = nn.functional.cross_entropy(OutputLogits(states).to(ScalarType.Float32), layout.Pack(batch.Targets), reduction: nn.Reduction.Sum);
        return (loss.MoveToOuterDisposeScope(), batch.TargetTokens);
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());

    /// <summary>
    /// The parameters a model of <paramref name="config"/> has, counted layer by layer without building it (a Huge
    /// model takes gigabytes): what <see cref="ParameterCount"/> returns for the built module, as the tests check.
    /// </summary>
    public static long CountParameters(SimVlmConfig config)
    {
        long width = config.Width, mlp = config.MlpWidth;
        static long GroupNorm(long channels) => 2 * channels;      // scale and shift per channel
        long stem = 3L * config.StemWidth * 7 * 7 + GroupNorm(config.StemWidth);
        long channels = config.StemWidth;
        for (int stage = 0; stage < 3; stage++)
        {
            long blockWidth = (long)config.StemWidth << stage;
            for (int block = 0; block < config.StageDepths[stage]; block++)
            {
                bool projected = (block == 0 && stage > 0) || channels != blockWidth * 4;
                stem += channels * blockWidth + GroupNorm(blockWidth)          // 1x1 reduce
                    + 9 * blockWidth * blockWidth + GroupNorm(blockWidth)      // 3x3
                    + blockWidth * blockWidth * 4 + GroupNorm(blockWidth * 4)  // 1x1 expand
                    + (projected ? channels * blockWidth * 4 + GroupNorm(blockWidth * 4) : 0);
                channels = blockWidth * 4;
            }
        }
        stem += channels * width + width + (long)config.ImageTokens * width;   // 1x1 to the width (with bias), image positions
        long layerNorm = 2 * width;
        long attention = 4 * (width * width + width);                           // query, key and value, output: weights and biases
        long feedForward = width * mlp + mlp + mlp * width + width;
        long encoderLayer = 2 * layerNorm + attention + feedForward;
        long decoderLayer = 3 * layerNorm + 2 * attention + feedForward;
        long embeddings = (long)config.VocabSize * width + (long)config.MaxTextLength * width; // tokens (tied with the output), text positions
        return stem + embeddings + config.EncoderLayers * encoderLayer + config.DecoderLayers * decoderLayer + 2 * layerNorm;
    }

    /// <summary>
    /// A position table for a square patch grid resized to a <paramref name="grid"/> x <paramref name="grid"/> one
    /// by 2-D bicubic interpolation (as ViT does to fine-tune at a higher resolution): each width channel is an
    /// image over the grid, so neighbouring patches keep neighbouring positions.
    /// </summary>
    public static Tensor InterpolateImagePositions(Tensor positions, int grid)
    {
        long tokens = positions.shape[1], width = positions.shape[2];
        long side = (long)Math.Round(Math.Sqrt(tokens));
        if (side * side != tokens) throw new ArgumentException($"{tokens} image positions do not form a square grid.", nameof(positions));
        using var scope = NewDisposeScope();
        var planes = positions.view(1, side, side, width).permute(0, 3, 1, 2);
        var resized = nn.functional.interpolate(planes, size: [grid, grid], mode: InterpolationMode.Bicubic, align_corners: false);
        return resized.permute(0, 2, 3, 1).reshape(1, (long)grid * grid, width).MoveToOuterDisposeScope();
    }

    /// <summary>The image position table's name among the parameters (field names, as TorchSharp registers them).</summary>
    public const string ImagePositionsName = nameof(imageEmbedding) + ".positions";

    /// <summary>
    /// Copies every weight of <paramref name="source"/>, a model of the same shape except perhaps its image size
    /// (a checkpoint pretrained at a lower resolution): the image position table is then interpolated to this
    /// model's patch grid (<see cref="InterpolateImagePositions"/>), since the convolutions do not depend on the image size.
    /// </summary>
    public void CopyWeightsFrom(SimVlmModel source)
    {
        bool sameShape = Config.StageDepths.SequenceEqual(source.Config.StageDepths)
            && Config with { ImageSize = source.Config.ImageSize, Dropout = source.Config.Dropout, DropPath = source.Config.DropPath, StageDepths = source.Config.StageDepths } == source.Config;
        if (!sameShape)
            throw new ArgumentException("The source model's shape differs from this one's in more than the image size.", nameof(source));
        using var noGrad = no_grad();
        var targets = named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, weights) in source.named_parameters())
        {
            var target = targets[name];
            if (weights.shape.SequenceEqual(target.shape)) target.copy_(weights);
            else if (name == ImagePositionsName)
            {
                using var resized = InterpolateImagePositions(weights, Config.ImageSize / Config.PatchSize);
                target.copy_(resized);
            }
            else throw new ArgumentException($"Weight {name} has shape [{string.Join(", ", weights.shape)}] in the source and [{string.Join(", ", target.shape)}] here.", nameof(source));
        }
    }

    /// <summary>
    /// Forward-pass matmul and convolution FLOPs for one sample with the given sequence lengths
    /// (multiply-add = 2 FLOPs; norms, softmax and activations are ignored as small). Training
    /// costs about three times this (forward, plus backward for activations and for weights).
    /// </summary>
    public static double ForwardFlopsPerSample(SimVlmConfig config, bool withImage, int prefixTextTokens, int suffixTokens) =>
        ForwardFlopsByPart(config, withImage, prefixTextTokens, suffixTokens).Total;

    /// <summary>The terms of <see cref="ForwardFlopsPerSample"/>, by the part of the model that spends them.</summary>
    public static FlopsByPart ForwardFlopsByPart(SimVlmConfig config, bool withImage, int prefixTextTokens, int suffixTokens)
    {
        double width = config.Width, mlp = config.MlpWidth;
        double encoderTokens = (withImage ? config.ImageTokens : 0) + prefixTextTokens;
        double projection = 2 * width * width, feedForward = 2 * 2 * width * mlp;
        // Encoder, per token: Q, K, V and output projections and the MLP; scores and the weighted
        // sum against every key.
        double encoderProjections = config.EncoderLayers * encoderTokens * 4 * projection;
        double encoderAttention = config.EncoderLayers * encoderTokens * 2 * 2 * encoderTokens * width;
        // Decoder, per suffix token: self-attention (causal: about half the keys), cross-attention
        // (queries and output per suffix token, keys and values once per encoder token), MLP.
        double decoderProjections = config.DecoderLayers * (suffixTokens * (4 * projection + 2 * projection) + encoderTokens * 2 * projection);
        double decoderAttention = config.DecoderLayers * suffixTokens * (2 * 2 * (suffixTokens + 1) / 2.0 * width + 2 * 2 * encoderTokens * width);
        return new FlopsByPart(
            Stem: withImage ? ConvStemFlops(config) : 0,
            Projections: encoderProjections + decoderProjections,
            Attention: encoderAttention + decoderAttention,
            Mlp: (config.EncoderLayers * encoderTokens + config.DecoderLayers * suffixTokens) * feedForward,
            OutputLayer: suffixTokens * 2 * width * config.VocabSize); // tied output projection
    }

    /// <summary>Training FLOPs (forward and backward) for one optimiser step over the given batches.</summary>
    public static double TrainingFlops(SimVlmConfig config, IEnumerable<PrefixLmBatch> batches) => TrainingFlopsByPart(config, batches).Total;

    /// <summary><see cref="TrainingFlops"/> by part of the model.</summary>
    public static FlopsByPart TrainingFlopsByPart(SimVlmConfig config, IEnumerable<PrefixLmBatch> batches) =>
        batches.SelectMany(b => Enumerable.Range(0, b.Size).Select(i =>
            ForwardFlopsByPart(config, b.Images is not null, b.PrefixTextLengths[i], b.SuffixLengths[i])))
            .Aggregate(new FlopsByPart(0, 0, 0, 0, 0), (sum, part) => sum + part) * 3;

    private static double ConvStemFlops(SimVlmConfig config)
    {
        double flops = 0;
        int side = config.ImageSize / 2; // after the 7x7 stride-2 stem convolution
        flops += 2.0 * 7 * 7 * 3 * config.StemWidth * side * side;
        if (config.PatchSize == 16) side /= 2;
        int channels = config.StemWidth;
        for (int stage = 0; stage < 3; stage++)
        {
            int width = config.StemWidth << stage;
            for (int block = 0; block < config.StageDepths[stage]; block++)
            {
                bool downsample = block == 0 && stage > 0;
                int inSide = side;
                if (downsample) side /= 2;
                flops += 2.0 * channels * width * inSide * inSide;        // 1x1 reduce, at the input resolution
                flops += 2.0 * 9 * width * width * side * side;           // 3x3 (strided)
                flops += 2.0 * width * width * 4 * side * side;           // 1x1 expand
                if (downsample || channels != width * 4) flops += 2.0 * channels * width * 4 * side * side;
                channels = width * 4;
            }
        }
        flops += 2.0 * channels * config.Width * config.ImageTokens;    // projection to the transformer width
        return flops;
    }
}

/// <summary>
/// FLOPs by part of the model: the convolution stem; the attention layers' linear projections
/// (queries, keys, values, outputs); attention proper (scores and weighted sums, which grow with
/// sequence length); the MLPs; the tied output layer over the vocabulary.
/// </summary>
public sealed record FlopsByPart(double Stem, double Projections, double Attention, double Mlp, double OutputLayer)
{
    public double Total => Stem + Projections + Attention + Mlp + OutputLayer;

    public static FlopsByPart operator +(FlopsByPart a, FlopsByPart b) =>
        new(a.Stem + b.Stem, a.Projections + b.Projections, a.Attention + b.Attention, a.Mlp + b.Mlp, a.OutputLayer + b.OutputLayer);

    public static FlopsByPart operator *(FlopsByPart a, double factor) =>
        new(a.Stem * factor, a.Projections * factor, a.Attention * factor, a.Mlp * factor, a.OutputLayer * factor);
}
