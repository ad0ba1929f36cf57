using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Model;

/// <summary>
/// Scalars that stay alive through the libtorch calls that read them. TorchSharp 0.107 turns a number passed
/// where it takes a <see cref="Scalar"/> (the alpha of every tensor sum, a factor, a fill value) into a native
/// Scalar that only the managed object's finalizer frees, and nothing keeps that object alive once its handle is
/// passed: a garbage collection started by another thread during the call may finalize it, and libtorch then reads
/// freed memory (seen as <c>toFloat at c10/core/Scalar.h:140</c> in long chains of fine-tunes). So every Scalar
/// our code passes is either one of these, never collected, or a local disposed after the call (<see cref="Of"/>).
/// </summary>
public static class KeptScalars
{
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar NegativeInfinity = float.NegativeInfinity.ToScalar();
    public static readonly Scalar BeginningOfText = SpecialTokens.Bos.ToScalar();

    /// <summary>A Scalar for a value computed at run time: dispose it after the call (<c>using var s = KeptScalars.Of(x)</c>) so it outlives the call.</summary>
    public static Scalar Of(double value) => value.ToScalar();

    /// <summary><paramref name="a"/> + <paramref name="b"/>: TorchSharp's operator passes an implicit alpha of 1.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>In-place <paramref name="a"/> += <paramref name="b"/> with the kept alpha.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary><paramref name="a"/> times a number, the number's Scalar kept until the product exists.</summary>
    public static Tensor Times(this Tensor a, double factor)
    {
        using var scalar = Of(factor);
        return a.mul(scalar);
    }

    /// <summary><paramref name="a"/> divided by a number, the number's Scalar kept until the quotient exists.</summary>
    public static Tensor DividedBy(this Tensor a, double divisor)
    {
        using var scalar = Of(divisor);
        return a.div(scalar);
    }
}
