#pragma once
// sequence_table: many item sequences (one per user) in one flat array, each
// row a (start, length) window on it, instead of a vector per user.
//
// Why: at a million users a vector per user costs a heap block each, up to 2x
// spare capacity from push_back growth and, in the leave-one-out split, three
// more copies of every sequence (training prefix, validation input, test
// input). Here the split's tables are windows on the dataset's own array:
// they share it (docs/data_at_scale.md has the measurements).
//
// Value semantics, like the vector of vectors it replaces: copying a table is
// cheap (the array is shared), and a table copies the array before it first
// changes a shared one (copy on write), so no change is ever seen through
// another table. Rows are read as std::span<const std::int32_t>; a span stays
// valid until this table changes (push_back may reallocate, as a vector's).
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <span>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::data {

class sequence_table {
 public:
  using row_type = std::span<const std::int32_t>;

  // Random-access over the rows; dereferencing gives a span (a value).
  class iterator {
   public:
    using iterator_concept = std::random_access_iterator_tag;
    using iterator_category = std::input_iterator_tag;  // the reference is a value: input for legacy algorithms
    using value_type = row_type;
    using difference_type = std::ptrdiff_t;
    using reference = row_type;

    iterator() = default;
    iterator(const sequence_table* t, std::size_t r) : t_(t), r_(r) {}
    row_type operator*() const { return (*t_)[r_]; }
    row_type operator[](difference_type k) const { return (*t_)[std::size_t(difference_type(r_) + k)]; }
    iterator& operator++() { return ++r_, *this; }
    iterator operator++(int) { return {t_, r_++}; }
    iterator& operator--() { return --r_, *this; }
    iterator operator--(int) { return {t_, r_--}; }
    iterator& operator+=(difference_type k) { return r_ = std::size_t(difference_type(r_) + k), *this; }
    iterator& operator-=(difference_type k) { return *this += -k; }
    friend iterator operator+(iterator i, difference_type k) { return i += k; }
    friend iterator operator+(difference_type k, iterator i) { return i += k; }
    friend iterator operator-(iterator i, difference_type k) { return i -= k; }
    friend difference_type operator-(const iterator& a, const iterator& b) {
      return difference_type(a.r_) - difference_type(b.r_);
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.r_ == b.r_; }
    friend auto operator<=>(const iterator& a, const iterator& b) { return a.r_ <=> b.r_; }

   private:
    const sequence_table* t_ = nullptr;
    std::size_t r_ = 0;
  };

  sequence_table() = default;
  // From a vector per row (tests, the Python module): one copy into the flat array.
  sequence_table(std::initializer_list<std::vector<std::int32_t>> rows) { assign(rows.begin(), rows.end()); }
  sequence_table(const std::vector<std::vector<std::int32_t>>& rows) { assign(rows.begin(), rows.end()); }  // NOLINT

  [[nodiscard]] std::size_t size() const { return length_.size(); }
  [[nodiscard]] bool empty() const { return length_.empty(); }
  // Items over all rows, O(1).
  [[nodiscard]] index total_items() const { return total_; }

  [[nodiscard]] row_type operator[](std::size_t r) const {
    return {items_->data() + start_[r], std::size_t(length_[r])};
  }
  [[nodiscard]] row_type at(std::size_t r) const {
    require(r < size(), "sequence table: row {} out of range [0, {})", r, size());
    return (*this)[r];
  }
  [[nodiscard]] iterator begin() const { return {this, 0}; }
  [[nodiscard]] iterator end() const { return {this, size()}; }

  // Capacity for `rows` more rows and `items` more items in the array.
  void reserve(std::size_t rows, std::size_t items) {
    start_.reserve(start_.size() + rows);
    length_.reserve(length_.size() + rows);
    own().reserve(own().size() + items);
  }

  // Appends a row holding a copy of `items`.
  void push_back(row_type items) {
    require(items.size() <= std::size_t(INT32_MAX), "sequence table: a row of {} items, at most {}", items.size(),
            INT32_MAX);
    if (items_ && !items.empty() && items.data() >= items_->data() && items.data() < items_->data() + items_->size()) {
      const std::vector<std::int32_t> copy(items.begin(), items.end());  // a row of this table: insert would alias
      return push_back(copy);
    }
    auto& a = own();
    start_.push_back(std::int64_t(a.size()));
    length_.push_back(std::int32_t(items.size()));
    a.insert(a.end(), items.begin(), items.end());
    total_ += index(items.size());
  }
  // Appends an empty row, then items one at a time to the last row (a reader
  // that meets a row's items one by one).
  void push_empty() { push_back(row_type{}); }
  void append_to_last(std::int32_t item) {
    require(!empty(), "sequence table: append_to_last on a table without rows");
    auto& a = own();
    require(start_.back() + length_.back() == std::int64_t(a.size()),
            "sequence table: the last row does not end the array (a window made by push_window)");
    require(length_.back() < INT32_MAX, "sequence table: a row of more than {} items", INT32_MAX);
    a.push_back(item);
    ++length_.back();
    ++total_;
  }

  // Appends, without copying, the first `length` items of `source`'s row `r`:
  // a window on `source`'s array, which this table then shares. A table that
  // has rows of its own array cannot take windows on another one.
  void push_window(const sequence_table& source, std::size_t r, std::size_t length) {
    require(r < source.size() && length <= std::size_t(source.length_[r]),
            "sequence table: window of {} items on row {} (of {}), which holds {}", length, r, source.size(),
            r < source.size() ? source.length_[r] : 0);
    if (items_ != source.items_) {
      require(empty(), "sequence table: windows on two arrays in one table");
      items_ = source.items_;
    }
    start_.push_back(source.start_[r]);
    length_.push_back(std::int32_t(length));
    total_ += index(length);
  }

  // Row r's items, to change in place (the array is copied first when shared).
  // The span is valid until the table is copied or changed.
  [[nodiscard]] std::span<std::int32_t> mutable_row(std::size_t r) {
    auto& a = own();
    return {a.data() + start_[r], std::size_t(length_[r])};
  }
  // Empties row r; its items stay in the array until compact().
  void clear_row(std::size_t r) {
    total_ -= index(length_[r]);
    length_[r] = 0;
  }

  // Keeps, in every row, the items for which keep(row, item) is true, in
  // order; one pass into a new array that holds exactly the rows.
  template <class Keep>
  void retain(Keep&& keep) {
    auto fresh = std::make_shared<std::vector<std::int32_t>>();
    fresh->reserve(std::size_t(total_));
    index total = 0;
    for (std::size_t r = 0; r < size(); ++r) {
      const auto old = (*this)[r];
      start_[r] = std::int64_t(fresh->size());
      for (const std::int32_t item : old)
        if (keep(r, item)) fresh->push_back(item);
      length_[r] = std::int32_t(std::int64_t(fresh->size()) - start_[r]);
      total += index(length_[r]);
    }
    fresh->shrink_to_fit();  // what was removed is given back
    items_ = std::move(fresh);
    total_ = total;
  }
  // An array that holds exactly the rows, in order: frees what cleared rows
  // and windows left behind.
  void compact() {
    retain([](std::size_t, std::int32_t) { return true; });
  }

  // Keeps only the rows for which keep_row(r) is true.
  template <class KeepRow>
  void erase_rows_unless(KeepRow&& keep_row) {
    std::size_t out = 0;
    for (std::size_t r = 0; r < size(); ++r)
      if (keep_row(r)) {
        start_[out] = start_[r];
        length_[out] = length_[r];
        ++out;
      } else {
        total_ -= index(length_[r]);
      }
    start_.resize(out);
    length_.resize(out);
  }

  // Memory held: the array (shared or not) and the row table.
  [[nodiscard]] std::size_t bytes() const {
    return (items_ ? items_->capacity() * sizeof(std::int32_t) : 0) + start_.capacity() * sizeof(std::int64_t) +
           length_.capacity() * sizeof(std::int32_t);
  }

  [[nodiscard]] std::vector<std::vector<std::int32_t>> to_vectors() const {
    std::vector<std::vector<std::int32_t>> out;
    out.reserve(size());
    for (const auto row : *this) out.emplace_back(row.begin(), row.end());
    return out;
  }

  friend bool operator==(const sequence_table& a, const sequence_table& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t r = 0; r < a.size(); ++r)
      if (!std::ranges::equal(a[r], b[r])) return false;
    return true;
  }

 private:
  template <class It>
  void assign(It first, It last) {
    std::size_t items = 0;
    for (auto it = first; it != last; ++it) items += it->size();
    reserve(std::size_t(std::distance(first, last)), items);
    for (auto it = first; it != last; ++it) push_back(*it);
  }

  // The array, this table's own: copied first when another table shares it.
  std::vector<std::int32_t>& own() {
    if (!items_)
      items_ = std::make_shared<std::vector<std::int32_t>>();
    else if (items_.use_count() > 1)
      items_ = std::make_shared<std::vector<std::int32_t>>(*items_);
    return *items_;
  }

  std::shared_ptr<std::vector<std::int32_t>> items_;  // null until the first row
  std::vector<std::int64_t> start_;                   // [rows] where each row begins in *items_
  std::vector<std::int32_t> length_;                  // [rows]
  index total_ = 0;
};

// Rows of item ids in any of the forms a caller holds them: a sequence_table,
// a vector of vectors (the Python module), a span of either.
template <class L>
concept sequence_list = requires(const L& l, std::size_t r) {
  { l.size() } -> std::convertible_to<std::size_t>;
  std::span<const std::int32_t>(l[r]);
};

// A borrowed table, or none (empty): what a view (eval/split_view.hpp) holds.
class sequence_table_ref {
 public:
  sequence_table_ref() = default;
  sequence_table_ref(const sequence_table& t) : t_(&t) {}  // NOLINT: a table is its own reference
  sequence_table_ref(sequence_table&&) = delete;           // it would dangle

  [[nodiscard]] std::size_t size() const { return t_ == nullptr ? 0 : t_->size(); }
  [[nodiscard]] bool empty() const { return size() == 0; }
  [[nodiscard]] sequence_table::row_type operator[](std::size_t r) const { return (*t_)[r]; }

 private:
  const sequence_table* t_ = nullptr;
};

}  // namespace slmrec::data
