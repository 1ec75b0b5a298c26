/**
 * The cart decider: pure functions, no I/O. `decide` turns a command and the current state into new
 * events or throws a {@link CartRejected}; `evolve` folds one event into the state; `initialState` is
 * the state of a stream with no events. The HTTP layer runs them through `handleCommand`; the tests
 * run them through `@waltz/eventstore/testing` with no store at all.
 */
import type { CartEvent } from './events.js'

/** The commands a cart accepts. Prices are integer cents. */
export type CartCommand =
  | { type: 'OpenCart'; customerId: string }
  | { type: 'AddItem'; sku: string; quantity: number; unitPrice: number }
  | { type: 'RemoveItem'; sku: string }
  | { type: 'ConfirmCart' }

/** One line of a cart. */
export interface CartLine {
  readonly quantity: number
  readonly unitPrice: number
}

/** The state `decide` needs: no more than the rules look at. */
export interface CartState {
  readonly status: 'none' | 'open' | 'confirmed'
  readonly lines: Readonly<Record<string, CartLine>>
}

/** The most units one cart may hold (it also keeps totals far from unsafe integers). */
export const MAX_UNITS_PER_CART = 999

/** Why a command was refused. Codes are part of the HTTP API: add new ones, never rename. */
export type CartRejectionCode =
  | 'CART_NOT_FOUND'
  | 'CART_ALREADY_OPEN'
  | 'CART_CONFIRMED'
  | 'CART_EMPTY'
  | 'ITEM_NOT_IN_CART'
  | 'PRICE_MISMATCH'
  | 'CART_LIMIT_EXCEEDED'

/** A command refused by the cart's rules; nothing was appended. */
export class CartRejected extends Error {
  override readonly name = 'CartRejected'
  readonly code: CartRejectionCode

  constructor(code: CartRejectionCode, message: string) {
    super(`${code}: ${message}`)
    this.code = code
  }

  static NOT_FOUND(): CartRejected {
    return new CartRejected('CART_NOT_FOUND', 'the cart was never opened')
  }

  static ALREADY_OPEN(): CartRejected {
    return new CartRejected('CART_ALREADY_OPEN', 'the cart is already open')
  }

  static CONFIRMED(): CartRejected {
    return new CartRejected('CART_CONFIRMED', 'the cart is confirmed and can no longer change')
  }

  static EMPTY(): CartRejected {
    return new CartRejected('CART_EMPTY', 'an empty cart cannot be confirmed')
  }

  static ITEM_NOT_IN_CART(sku: string): CartRejected {
    return new CartRejected('ITEM_NOT_IN_CART', `${sku} is not in the cart`)
  }

  static PRICE_MISMATCH(sku: string, inCart: number, given: number): CartRejected {
    return new CartRejected('PRICE_MISMATCH', `${sku} is in the cart at ${inCart} cents, not ${given}`)
  }

  static LIMIT_EXCEEDED(units: number): CartRejected {
    return new CartRejected(
      'CART_LIMIT_EXCEEDED',
      `the cart would hold ${units} units, more than ${MAX_UNITS_PER_CART}`,
    )
  }
}

/**
 * Whether `err` is a {@link CartRejected}, optionally with the given code (by `name`, not
 * `instanceof`, like the store's own errors).
 */
export function isCartRejected(err: unknown, code?: CartRejectionCode): err is CartRejected {
  return (
    err instanceof Error &&
    err.name === 'CartRejected' &&
    (code === undefined || (err as CartRejected).code === code)
  )
}

/** The state of a stream with no events. */
export function initialState(): CartState {
  return { status: 'none', lines: {} }
}

/** Units in the cart. */
export function unitCount(state: CartState): number {
  let n = 0
  for (const line of Object.values(state.lines)) n += line.quantity
  return n
}

/** The cart's total in cents. */
export function totalOf(state: CartState): number {
  let total = 0
  for (const line of Object.values(state.lines)) total += line.quantity * line.unitPrice
  return total
}

/**
 * Decides what a command does to a cart.
 *
 * @param command - the command
 * @param state - the cart's current state
 * @returns the events to append
 * @throws CartRejected when the cart's rules refuse the command
 */
export function decide(command: CartCommand, state: CartState): CartEvent[] {
  if (command.type === 'OpenCart') {
    if (state.status !== 'none') throw CartRejected.ALREADY_OPEN()
    return [{ type: 'CartOpened', data: { customerId: command.customerId } }]
  }
  if (state.status === 'none') throw CartRejected.NOT_FOUND()
  if (state.status === 'confirmed') throw CartRejected.CONFIRMED()
  switch (command.type) {
    case 'AddItem': {
      const { sku, quantity, unitPrice } = command
      const line = state.lines[sku]
      if (line && line.unitPrice !== unitPrice)
        throw CartRejected.PRICE_MISMATCH(sku, line.unitPrice, unitPrice)
      const units = unitCount(state) + quantity
      if (units > MAX_UNITS_PER_CART) throw CartRejected.LIMIT_EXCEEDED(units)
      return [{ type: 'ItemAdded', data: { sku, quantity, unitPrice } }]
    }
    case 'RemoveItem': {
      const line = state.lines[command.sku]
      if (!line) throw CartRejected.ITEM_NOT_IN_CART(command.sku)
      return [{ type: 'ItemRemoved', data: { sku: command.sku, ...line } }]
    }
    case 'ConfirmCart': {
      const itemCount = unitCount(state)
      if (itemCount === 0) throw CartRejected.EMPTY()
      return [{ type: 'CartConfirmed', data: { itemCount, total: totalOf(state) } }]
    }
  }
}

/**
 * Folds one event into the state.
 *
 * @param state - the state before the event
 * @param event - the event
 * @returns the state after it
 */
export function evolve(state: CartState, event: CartEvent): CartState {
  switch (event.type) {
    case 'CartOpened':
      return { status: 'open', lines: {} }
    case 'ItemAdded': {
      const { sku, quantity, unitPrice } = event.data
      const before = state.lines[sku]?.quantity ?? 0
      return { ...state, lines: { ...state.lines, [sku]: { quantity: before + quantity, unitPrice } } }
    }
    case 'ItemRemoved': {
      const { [event.data.sku]: _removed, ...lines } = state.lines
      return { ...state, lines }
    }
    case 'CartConfirmed':
      return { ...state, status: 'confirmed' }
  }
}
