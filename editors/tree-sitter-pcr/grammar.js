/**
 * @file tree-sitter grammar for PCR policies (.pcr): the prior-authorization
 * rule language. It follows grammar/parser.y and grammar/lexer.l of the PCR
 * sources (docs/language.md is the reference); the keyword lists below are
 * written from lexer.l by editors/sync-keywords.sh, and `make test` checks
 * they are in step. docs/editors.md says how to build and use it.
 *
 * Where the two differ on purpose: this grammar accepts what pcrc parses,
 * names the parts an editor highlights or folds, and leaves error recovery
 * to tree-sitter.
 */

/* eslint-disable arrow-parens, camelcase */

// BEGIN KEYWORDS: written by editors/sync-keywords.sh from grammar/lexer.l; do not edit
const KEYWORDS = [
  'use', 'policy', 'schema', 'codeset', 'calendar', 'rule', 'test', 'extends',
  'remove', 'replace', 'when', 'unless', 'require', 'exempt', 'all', 'reviewer',
  'deadline', 'before', 'after', 'cite', 'section', 'effective', 'through', 'given',
  'expect', 'rules', 'missing', 'timely', 'and', 'or', 'not', 'in',
  'any', 'present', 'true', 'false', 'required', 'list', 'enum', 'code',
  'system', 'none', 'unknown', 'prior_auth', 'notification', 'not_covered', 'advisory', 'possible',
  'info_needed', 'no_policy', 'error',
];
const SYSTEMS = ['CPT', 'HCPCS', 'ICD10', 'REV', 'POS'];
// END KEYWORDS

const PREC = {
  or: 1,
  and: 2,
  not: 3,
  compare: 4,
};

/** One or more `rule`, separated by commas. */
function commaSep1(rule) {
  return seq(rule, repeat(seq(',', rule)));
}

/** As commaSep1, with an optional trailing comma. */
function commaSepTrail1(rule) {
  return seq(commaSep1(rule), optional(','));
}

module.exports = grammar({
  name: 'pcr',

  word: $ => $.identifier,

  extras: $ => [/[ \t\r\n]/, $.comment],

  rules: {
    source_file: $ => repeat($._declaration),

    _declaration: $ => choice(
      $.use_declaration,
      $.policy_declaration,
      $.schema_declaration,
      $.codeset_declaration,
      $.calendar_declaration,
      $.rule_declaration,
      $.remove_declaration,
      $.replace_declaration,
      $.test_declaration,
    ),

    // ---- use -------------------------------------------------------------
    use_declaration: $ => seq('use', field('module', $.module_path)),
    module_path: $ => seq($.identifier, repeat(seq('.', $.identifier))),

    // ---- policy header ---------------------------------------------------
    policy_declaration: $ => seq(
      'policy', field('name', $.identifier),
      optional(seq('extends', field('base', $.module_path))),
      '{', repeat($._property), '}'),
    _property: $ => choice($.property, $.calendar_property, $.effective),
    property: $ => seq(
      field('key', choice($.identifier, 'reviewer')),
      $._strings),
    calendar_property: $ => seq('calendar', field('calendar', $.identifier)),
    _strings: $ => seq($.string, repeat(seq(optional(','), $.string))),
    effective: $ => seq(
      'effective', field('from', $.date),
      optional(seq('through', field('through', $.date)))),

    // ---- schema ----------------------------------------------------------
    schema_declaration: $ => seq(
      'schema', field('name', $.identifier), '{', repeat($.field_declaration), '}'),
    field_declaration: $ => seq(
      field('name', $._field_name), ':', field('type', $._type),
      optional('required'),
      optional(seq('=', field('default', $._value))),
      optional(field('wording', $.field_wording))),
    // How pcrc list words the field: its noun, then `key "words"` pairs
    // (`true`/`false`, `any`/`none`, `unit`, or an enum member).
    field_wording: $ => seq(field('noun', $.string), repeat(seq(',', $.wording))),
    wording: $ => seq(
      field('key', choice($._word, alias(choice('true', 'false'), $.identifier))),
      field('words', $.string)),
    _field_name: $ => choice($.identifier, alias('code', $.identifier)),
    _type: $ => choice(
      alias($.identifier, $.type_name),
      $.enum_type,
      $.code_type,
      $.list_type,
    ),
    enum_type: $ => seq('enum', '{', commaSepTrail1($._member), '}'),
    _member: $ => choice($._word, $.string),
    code_type: $ => seq(
      'code', '(', commaSep1($.system), ')',
      optional(seq('system', field('system_field', $._field_name)))),
    list_type: $ => seq('list', choice(
      alias($.identifier, $.type_name),
      seq('code', '(', commaSep1($.system), ')'))),

    // ---- code sets -------------------------------------------------------
    codeset_declaration: $ => seq(
      'codeset', field('name', $.identifier),
      optional(field('title', $.string)),
      optional($.effective),
      choice(
        seq('{', repeat($.code_group), '}'),
        seq('=', field('value', $._set_expression)))),
    _set_expression: $ => choice($.set_binary, $._set_term),
    set_binary: $ => prec.left(seq(
      field('left', $._set_expression),
      field('operator', choice('+', '-')),
      field('right', $._set_term))),
    _set_term: $ => choice(
      alias($.identifier, $.set_name),
      $.set_literal,
      $.set_parenthesized),
    set_parenthesized: $ => seq('(', $._set_expression, ')'),
    set_literal: $ => seq('{', repeat1($.code_group), '}'),
    code_group: $ => seq($.system, repeat1($._code_item)),
    _code_item: $ => seq(choice($.code, $.code_prefix, $.code_range), optional(',')),
    code_range: $ => seq(field('from', $.code), '..', field('to', $.code)),
    // A code inside a set: 70551, 0213T, C50.911, Z6835. token() keeps it
    // one token; a system name (a string token) wins over it.
    code: $ => token(/[A-Za-z0-9]+(\.[A-Za-z0-9]+)?/),
    code_prefix: $ => token(/[A-Za-z0-9]+(\.[A-Za-z0-9]+)?\.?\*/),
    system: $ => choice(...SYSTEMS),

    // ---- calendars -------------------------------------------------------
    calendar_declaration: $ => seq(
      'calendar', field('name', $.identifier), optional(field('title', $.string)),
      '{', repeat($.holiday), '}'),
    holiday: $ => seq($.date, $.string),

    // ---- rules -----------------------------------------------------------
    rule_declaration: $ => seq(
      'rule', field('name', $.identifier), field('title', $.string),
      '{', repeat($._rule_clause), '}'),
    // Changes an extending policy makes to the rules it inherits.
    remove_declaration: $ => seq(
      'remove', 'rule', field('name', $.identifier), field('reason', $.string)),
    replace_declaration: $ => seq(
      'replace', 'rule', field('name', $.identifier), field('title', $.string),
      '{', repeat($._rule_clause), '}'),
    _rule_clause: $ => choice(
      $.cite_clause,
      $.effective,
      $.when_clause,
      $.unless_clause,
      $.require_clause,
      $.exempt_clause,
      $.reviewer_clause,
      $.deadline_clause,
    ),
    cite_clause: $ => seq(
      'cite', field('document', $.string),
      optional(seq('section', field('section', $.string)))),
    when_clause: $ => seq('when', field('condition', $._condition)),
    unless_clause: $ => seq('unless', field('condition', $._condition)),
    require_clause: $ => seq('require', $.outcome),
    outcome: $ => choice('prior_auth', 'notification', 'not_covered', 'advisory'),
    exempt_clause: $ => seq('exempt', choice('all', commaSep1(alias($.identifier, $.rule_name)))),
    reviewer_clause: $ => seq('reviewer', $._strings),
    deadline_clause: $ => seq(
      'deadline', field('amount', $.integer), field('unit', alias($.identifier, $.unit)),
      field('direction', choice('before', 'after')),
      field('anchor', alias($.identifier, $.anchor))),

    // ---- conditions: `or` < `and` < `not`; comparisons do not chain -------
    _condition: $ => choice(
      $.or_condition,
      $.and_condition,
      $.not_condition,
      $.parenthesized_condition,
      $._predicate,
    ),
    or_condition: $ => prec.left(PREC.or, seq($._condition, 'or', $._condition)),
    and_condition: $ => prec.left(PREC.and, seq($._condition, 'and', $._condition)),
    not_condition: $ => prec(PREC.not, seq('not', $._condition)),
    parenthesized_condition: $ => seq('(', $._condition, ')'),
    _predicate: $ => choice(
      $.comparison,
      $.in_condition,
      $.present_condition,
      $._operand,
    ),
    comparison: $ => prec(PREC.compare, seq(
      field('left', $._operand),
      field('operator', choice('==', '!=', '<', '<=', '>', '>=')),
      field('right', $._operand))),
    in_condition: $ => prec(PREC.compare, seq(
      field('field', $._name),
      field('operator', choice('in', seq('not', 'in'), seq('any', 'in'))),
      field('set', choice(alias($.identifier, $.set_name), $.set_literal, $.value_list)))),
    value_list: $ => seq('{', commaSepTrail1(choice($._word, $.string, $.integer)), '}'),
    present_condition: $ => seq('present', '(', $._name, ')'),
    _operand: $ => choice($._name, $.system, $._literal),
    _name: $ => choice($.identifier, alias('code', $.identifier)),

    // ---- tests -----------------------------------------------------------
    test_declaration: $ => seq(
      'test', field('name', $.string), '{', repeat($._test_clause), '}'),
    _test_clause: $ => choice(
      $.given_clause,
      $.expect_clause,
      $.reviewer_clause,
      $.rules_clause,
      $.test_deadline_clause,
      $.missing_clause,
      $.possible_clause,
      $.timely_clause,
    ),
    given_clause: $ => seq('given', '{', repeat(seq($.field_value, optional(','))), '}'),
    field_value: $ => seq(field('field', $._name), ':', field('value', choice($._value, $.list))),
    list: $ => seq('[', optional(commaSepTrail1($._value)), ']'),
    expect_clause: $ => seq('expect', $.decision, repeat(seq(',', $.outcome))),
    possible_clause: $ => seq('possible', '[', optional(commaSepTrail1($.outcome)), ']'),
    decision: $ => choice(
      'prior_auth', 'notification', 'not_covered', 'none', 'info_needed', 'no_policy', 'error'),
    rules_clause: $ => seq(
      'rules', '[', optional(commaSepTrail1(alias($.identifier, $.rule_name))), ']'),
    test_deadline_clause: $ => seq('deadline', choice($.date, $.datetime, 'none')),
    missing_clause: $ => seq('missing', '[', optional(commaSepTrail1($._name)), ']'),
    timely_clause: $ => seq('timely', choice($.boolean, 'unknown')),

    // ---- values ----------------------------------------------------------
    _value: $ => choice($._literal, $._word),
    _literal: $ => choice(
      $.integer, $.decimal, $.money, $.string, $.date, $.datetime, $.boolean),
    boolean: $ => choice('true', 'false'),
    // Where an enum member is expected any keyword is a name, except `true`
    // and `false`, which are values.
    _word: $ => choice(
      $.identifier,
      $.system,
      alias(choice(...KEYWORDS.filter(k => k !== 'true' && k !== 'false')), $.identifier)),

    // ---- tokens ----------------------------------------------------------
    identifier: $ => /[A-Za-z_][A-Za-z0-9_]*/,
    integer: $ => /[0-9]+/,
    decimal: $ => /[0-9]+\.[0-9]+/,
    money: $ => /\$([0-9]+(,[0-9]+)*(\.[0-9]*)?)?/,
    date: $ => /[0-9]{4}-[0-9]{2}-[0-9]{2}/,
    datetime: $ => /[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?/,
    string: $ => seq('"', repeat(choice($._string_content, $.escape_sequence)), token.immediate('"')),
    _string_content: $ => token.immediate(prec(1, /[^"\\\n]+/)),
    escape_sequence: $ => token.immediate(/\\(u[0-9A-Fa-f]{4}|["\\nt])/),
    comment: $ => token(choice(seq('#', /[^\n]*/), seq('//', /[^\n]*/))),
  },
});
