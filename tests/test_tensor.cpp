// Tests of Tensor (creation, views sharing storage, copies, errors) and of the seeded generator.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "engine/tensor.h"

using namespace busi;

TEST_CASE("tensor creation, shape and strides") {
  Tensor t = Tensor::zeros({2, 3, 4});
  CHECK(t.numel() == 24);
  CHECK(t.strides() == Shape{12, 4, 1});
  CHECK(t.size(-1) == 4);
  CHECK(t.device() == Device::cpu());
  CHECK(shape_str(t.shape()) == "(2, 3, 4)");
  Tensor s = Tensor::scalar(2.5f);
  CHECK(s.dim() == 0);
  CHECK(s.item() == 2.5f);
  CHECK_THROWS_WITH_AS(Tensor::from_vector({1, 2, 3}, {2, 2}),
                       doctest::Contains("3 values do not fill shape (2, 2)"), Error);
  CHECK_THROWS_AS(t.size(3), Error);
  CHECK_THROWS_WITH_AS(Tensor().shape(), "use of an undefined Tensor", Error);
}

TEST_CASE("views share storage; clone copies") {
  Tensor t = Tensor::from_vector({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor v = t.view({3, -1});
  CHECK(v.shape() == Shape{3, 2});
  v.data()[0] = 42.0f;
  CHECK(t.data()[0] == 42.0f);
  Tensor row = t.narrow0(1, 1);
  CHECK(row.shape() == Shape{1, 3});
  CHECK(row.to_vector() == std::vector<float>{3, 4, 5});
  CHECK(row.storage() == t.storage());
  Tensor c = t.clone();
  c.data()[1] = -1.0f;
  CHECK(t.data()[1] == 1.0f);
  CHECK_THROWS_WITH_AS(t.view({4, 2}), doctest::Contains("cannot view (2, 3)"), Error);
  CHECK_THROWS_AS(t.narrow0(1, 2), Error);
}

TEST_CASE("detach and no-grad scope") {
  Tensor w = Tensor::ones({3}).set_requires_grad(true);
  Tensor y = scale(w, 2.0f);
  CHECK(y.requires_grad());
  CHECK(y.grad_fn() != nullptr);
  CHECK_FALSE(y.detach().requires_grad());
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Tensor z = scale(w, 2.0f);
    CHECK_FALSE(z.requires_grad());
    CHECK_THROWS_WITH_AS(sum(z).backward(), doctest::Contains("does not require grad"), Error);
  }
  CHECK(grad_enabled());
}

TEST_CASE("backward accumulates, frees the graph, and refuses a second pass") {
  Tensor w = Tensor::from_vector({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor loss = sum(mul(w, w));  // d/dw = 2w
  loss.backward();
  CHECK(w.grad().to_vector() == std::vector<float>{2, 4, 6});
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("graph was freed"), Error);
  sum(w).backward();  // gradients accumulate until zero_grad()
  CHECK(w.grad().to_vector() == std::vector<float>{3, 5, 7});
  w.zero_grad();
  CHECK_FALSE(w.grad().defined());
  Tensor kept = sum(scale(w, 3.0f));
  kept.backward(Tensor(), /*retain_graph=*/true);
  kept.backward();
  CHECK(w.grad().to_vector() == std::vector<float>{6, 6, 6});
}

TEST_CASE("a tensor used twice gets both gradient contributions") {
  Tensor x = Tensor::from_vector({1.5f, -2.0f}, {2}).set_requires_grad(true);
  Tensor y = add(relu(x), scale(x, 3.0f));  // dy/dx = [x > 0] + 3
  sum(y).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{4, 3});
}

TEST_CASE("a leaf's gradient owns its memory, never the seed's or a passed-through one") {
  // add_scalar and reshape pass the upstream gradient through unchanged; a root leaf's gradient
  // is the seed itself. Changing the seed afterwards must not change .grad, and vice versa.
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor seed = Tensor::from_vector({0.5f, 1.5f, 2.5f}, {3});
  add_scalar(reshape(x, {3, 1}), 1.0f).backward(seed.view({3, 1}));
  seed.fill_(100.0f);
  CHECK(x.grad().to_vector() == std::vector<float>{0.5f, 1.5f, 2.5f});
  x.grad().fill_(-1.0f);
  CHECK(seed.to_vector() == std::vector<float>{100, 100, 100});

  Tensor leaf = Tensor::from_vector({4, 5}, {2}).set_requires_grad(true);
  Tensor leaf_seed = Tensor::from_vector({1, 1}, {2});
  leaf.backward(leaf_seed);
  leaf_seed.fill_(7.0f);
  CHECK(leaf.grad().to_vector() == std::vector<float>{1, 1});
}

TEST_CASE("a fresh gradient that nothing else holds becomes the leaf's gradient without a copy") {
  // The op below hands back a gradient it just made and keeps no handle to it: autograd moves it
  // into .grad (no clone). A gradient the op still holds (a view of it kept in its closure) is
  // copied, so that changing .grad cannot change the op's own tensor.
  Tensor w = Tensor::from_vector({1, 2, 3}, {3}).set_requires_grad(true);
  const float* produced = nullptr;
  Tensor y = record("fresh", Tensor::zeros({3}), {w}, [&](const Tensor& g) {
    Tensor d = g.clone();
    produced = d.data();
    return std::vector<Tensor>{d};
  });
  sum(y).backward();
  CHECK(w.grad().data() == produced);

  Tensor v = Tensor::from_vector({1, 2}, {2}).set_requires_grad(true);
  const Tensor kept = Tensor::from_vector({5, 6}, {2});
  Tensor z = record("kept", Tensor::zeros({2}), {v},
                    [kept](const Tensor&) { return std::vector<Tensor>{kept.view({2})}; });
  sum(z).backward();
  CHECK(v.grad().data() != kept.data());
  v.grad().fill_(0.0f);
  CHECK(kept.to_vector() == std::vector<float>{5, 6});
}

TEST_CASE("frozen parameters get no gradient") {
  Tensor x = Tensor::from_vector({1, 2}, {1, 2}).set_requires_grad(true);
  Tensor w = Tensor::from_vector({1, 1, 1, 1}, {2, 2});  // frozen: requires_grad false
  Tensor b = Tensor::zeros({2}).set_requires_grad(true);
  sum(linear(x, w, b)).backward();
  CHECK_FALSE(w.grad().defined());
  CHECK(b.grad().to_vector() == std::vector<float>{1, 1});
  CHECK(x.grad().to_vector() == std::vector<float>{2, 2});
}

TEST_CASE("generator: reproducible from a seed, distinct for another seed") {
  Generator a(123), b(123);
  for (int i = 0; i < 10; ++i) {
    const uint32_t va = a.next_u32();
    CHECK(va == b.next_u32());
  }

  Generator d(7), e(8);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += d.next_u32() == e.next_u32();
  CHECK(same < 3);
  // Uniform mean and normal moments over many draws (loose statistical bounds, 20 sigma).
  Generator g(1);
  double s = 0, s2 = 0, m = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double u = g.uniform();
    CHECK((u >= 0.0 && u < 1.0));
    m += u;
    const double z = g.normal();
    s += z;
    s2 += z * z;
  }
  CHECK(std::abs(m / n - 0.5) < 0.02);
  CHECK(std::abs(s / n) < 0.05);
  CHECK(std::abs(s2 / n - 1.0) < 0.05);
  // Saving and restoring the offset replays the stream (what checkpoints rely on).
  Generator h(99);
  h.next_u32();
  const uint64_t off = h.offset();
  const uint32_t next = h.next_u32();
  Generator h2(99);
  h2.set_offset(off);
  CHECK(h2.next_u32() == next);
  std::vector<int64_t> p = Generator(5).permutation(10);
  std::sort(p.begin(), p.end());
  for (int i = 0; i < 10; ++i) CHECK(p[i] == i);
}

TEST_CASE("device chooser") {
  CHECK(choose_device("cpu") == Device::cpu());
  CHECK_THROWS_WITH_AS(choose_device("gpu"), doctest::Contains("unknown value 'gpu'"), Error);
  if (!cuda_available()) {
    CHECK(choose_device("auto") == Device::cpu());
    CHECK_THROWS_WITH_AS(choose_device("cuda"), doctest::Contains("CUDA is not usable"), Error);
  }
}
